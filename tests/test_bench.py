"""`make serve` and the load generator behind `make bench` (their figures are never asserted)."""

import shutil
import subprocess

import pytest
import requests

from bench import authorization, passwords
from bench.load import LoadResult, Request, count_for, percentile, run_load
from bench.throttling import targets
from steps import numbers_from
from tests.helpers import live_steps, make
from tests.live import ROOT


def test_percentile_interpolates_between_the_nearest_ranks():
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([float(n) for n in range(1, 101)], 95) == pytest.approx(95.05)
    assert percentile([1.0, 2.0], 0) == 1.0
    assert percentile([1.0, 2.0], 100) == 2.0
    assert percentile([7.0], 95) == 7.0


def test_percentile_of_no_values_is_an_error():
    with pytest.raises(ValueError):
        percentile([], 50)


def test_a_load_result_summarizes_throughput_and_latency():
    latencies = [0.4, 0.1, 0.3, 0.2]
    result = LoadResult("GET /", 2, seconds=2.0, latencies=latencies, statuses=[200] * 4)
    assert result.summary() == {
        "requests": 4,
        "clients": 2,
        "seconds": 2.0,
        "requests_per_second": 2.0,
        "p50_ms": 250.0,
        "p95_ms": 385.0,
        "statuses": {200: 4},
    }


@pytest.mark.parametrize(
    "seconds, rate, clients, most, expected",
    [
        (20, 1.2, 4, 400, 24),  # 24 requests at 1.2 req/s: about 20 s
        (20, 1.3, 4, 400, 28),  # rounded up to whole rounds of the clients
        (20, 1000.0, 4, 400, 400),  # bounded
        (1, 0.1, 4, 400, 8),  # at least two rounds
    ],
)
def test_count_for_sizes_a_bounded_run(seconds, rate, clients, most, expected):
    assert count_for(seconds, rate, clients, most) == expected


@pytest.mark.parametrize("target", ["serve", "bench"])
@pytest.mark.parametrize("workers", ["0", "two", "-1"])
def test_make_refuses_a_worker_count_that_is_not_a_positive_number(target, workers):
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), target, f"WORKERS={workers}"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert f"WORKERS must be a whole number from 1 (got '{workers}')" in result.stderr


@pytest.mark.live
@pytest.mark.step4
def test_make_serve_runs_the_step_under_gunicorn_with_the_workers_asked_for(live_server):
    server = live_server(4, target="serve", make_vars={"WORKERS": "1"})
    response = requests.get(f"{server.url}/api/users/1", timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404
    assert response.headers["Server"].startswith("gunicorn")
    assert server.log_text().count("Booting worker") == 1


@pytest.mark.live
@pytest.mark.step4
def test_the_load_generator_checks_every_answer_of_a_real_server(live_server):
    server = live_server(4, target="serve", make_vars={"WORKERS": "2"})
    lookups = [Request("GET", "/api/users/1")] * 6
    result = run_load(server.port, "GET /api/users/1", lookups, 3, 404)
    assert result.statuses == [404] * 6
    assert len(result.latencies) == 6 and all(latency > 0 for latency in result.latencies)
    with pytest.raises(RuntimeError, match=r"expected 200, got \{404: 6\}"):
        run_load(server.port, "GET /api/users/1", lookups, 3, 200)
    assert run_load(server.port, "GET /api/users/1", lookups, 3, (200, 404)).statuses == [404] * 6


@pytest.mark.step6
def test_make_serve_refuses_step_6_workers_that_would_each_count_alone():
    result = make("serve", "STEP=6", "WORKERS=2")
    assert result.returncode == 2
    assert "With WORKERS=2, each worker would count failed logins alone" in result.stderr
    assert "FLASK_RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379 make serve" in result.stderr


@pytest.mark.parametrize("number", live_steps(*numbers_from(6)))  # step 6 and later
def test_make_serve_runs_a_step_with_limits_on_one_worker_unless_told_of_a_shared_store(number):
    alone = make("-n", "serve", f"STEP={number}", check=True).stdout
    assert "--workers 1 " in alone
    assert "counts failed logins in this process's memory, so one worker serves it" in alone
    for variable in (
        "FLASK_RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379",
        "FLASK_RATELIMIT_ENABLED=false",
    ):
        shared = make("-n", "serve", f"STEP={number}", "WORKERS=2", variable, check=True).stdout
        assert "--workers 2 " in shared
        assert "one worker serves it" not in shared
    before = make("-n", "serve", "STEP=5", check=True).stdout  # no limits yet: a worker per core
    assert "one worker serves it" not in before


@pytest.mark.step6
def test_make_redis_says_how_to_install_redis_server_where_there_is_none(tmp_path):
    result = subprocess.run(
        [shutil.which("make"), "--no-print-directory", "-C", str(ROOT), "redis"],
        capture_output=True,
        text=True,
        env={"PATH": str(tmp_path)},  # no redis-server there
    )
    assert result.returncode == 2  # make's code for a recipe that failed
    assert "redis-server was not found" in result.stderr
    assert "sudo apt-get install redis-server" in result.stderr
    assert "brew install redis" in result.stderr


@pytest.mark.parametrize(
    "workers, let_through, met",
    [(1, 10, True), (1, 11, False), (2, 11, True), (2, 12, False), (2, 9, False)],
)
def test_step_6s_burst_meets_its_target_with_the_limit_plus_one_per_extra_worker(
    workers, let_through, met
):
    step6 = {
        "token_vs_user_lookup": 0.8,
        "token_vs_step5_token": 1.0,
        "refused_vs_limited": 300.0,
        "burst": {"let_through": let_through},
    }
    rows = {row["ratio"]: row for row in targets(step6, workers)}
    assert rows["let through before the 429s"]["met"] is met
    assert all(row["met"] for name, row in rows.items() if name != "let through before the 429s")


@pytest.mark.parametrize("ratio, met", [(0.95, True), (0.9, True), (0.89, False)])
def test_step_7s_token_rate_is_held_to_nine_tenths_of_step_6s(ratio, met):
    (row,) = authorization.targets({"token_vs_step6_token": ratio})
    assert (row["ratio"], row["target"], row["met"]) == (
        "step 7 token / step 6 token",
        ">= 0.9",
        met,
    )


@pytest.mark.step8
def test_step_8s_targets_say_which_ratio_falls_short():
    step8 = {"basic_vs_step7": 12.0, "token_vs_step7_token": 0.85, "refused_vs_limited": 25.0}
    rows = {row["ratio"]: row["met"] for row in passwords.targets(step8)}
    assert rows == {
        "step 8 Basic / step 7 Basic": True,
        "step 8 token / step 7 token": False,
        "step 8 refused (401) / limit (429)": True,
    }
    del step8["refused_vs_limited"]  # several workers: the limits are off, no 429 measured
    assert len(passwords.targets(step8)) == 2
