"""Step 6's limits on real servers: the development server, gunicorn with one worker
counting in memory, and gunicorn with two workers sharing a real Redis, which is stopped
and started again under load.

These tests run with `make test-redis` (tests/redis.sh starts a throwaway redis-server and
runs the tests marked `redis`); `make test` skips them. The rules themselves are tested
in-process in test_step6_throttling.py.
"""

import itertools
import os
import signal
import subprocess
import threading
import time

import pytest
import requests

from tests.helpers import PASSPHRASE, assert_problem, basic_auth, concurrently, register_live
from tests.live import ROOT, RedisServer, free_port

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.step6]

WRONG = "not-the-right-passphrase"
LIMIT = 10  # failed logins per username: the default, "10 per 10 minutes; 100 per day"


@pytest.fixture
def redis_server():
    """The Redis of `make test-redis`, emptied; tests/redis.sh fails where there is none."""
    if not os.environ.get("TEST_REDIS_URL"):
        pytest.skip("needs a Redis server: make test-redis runs it")
    server = RedisServer()
    server.client().flushall()
    return server


# (make target, workers, whether they share Redis)
SERVERS = {
    "development-server": ("run", None, False),
    "gunicorn-1-worker-memory": ("serve", "1", False),
    "gunicorn-2-workers-redis": ("serve", "2", True),
}


@pytest.fixture(params=SERVERS.values(), ids=SERVERS.keys())
def limited_server(request, live_server, redis_server):
    target, workers, shared = request.param
    env = {"FLASK_RATELIMIT_ENABLED": "true"}
    if shared:
        env["FLASK_RATELIMIT_STORAGE_URI"] = redis_server.url
    make_vars = {"WORKERS": workers} if workers else {}
    server = live_server(6, target=target, make_vars=make_vars, env=env)
    server.workers = int(workers or 1)
    return server


def login(server, username, password=WRONG, route="/api/resource"):
    method = requests.post if route == "/api/tokens" else requests.get
    return method(f"{server.url}{route}", headers=basic_auth(username, password), timeout=60)


def at_once(server, username, count=20):
    """Send `count` wrong passwords for one name at once; return how many were verified."""
    responses = concurrently(lambda _: login(server, username), range(count))
    statuses = [response.status_code for response in responses]
    assert set(statuses) <= {401, 429}, statuses
    return statuses.count(401)


def test_twenty_guesses_at_once_let_through_the_limit_and_at_most_one_per_extra_worker(
    limited_server,
):
    server = limited_server
    assert register_live(server, "alice").status_code == 201
    through = at_once(server, "alice")
    # Each worker checks one guess of a name at a time; k workers sharing one count can
    # each pass a guess at 9: at most k - 1 beyond the limit.
    most = LIMIT + server.workers - 1
    assert LIMIT <= through <= most, (
        f"wrong passwords verified of 20 at once: expected {LIMIT} to {most}, got {through}"
    )


def test_every_rule_holds_on_a_real_server(limited_server):
    server = limited_server
    for name in ("alice", "bob"):
        assert register_live(server, name).status_code == 201
    token = login(server, "alice", PASSPHRASE, "/api/tokens").json()["access_token"]
    answers = {}
    for name in ("alice", "nobody"):  # a known and an unknown name, answered alike
        statuses = [login(server, name).status_code for _ in range(LIMIT)]
        assert statuses == [401] * LIMIT
        limited = login(server, name, route="/api/tokens")
        answers[name] = assert_problem(limited, 429)["detail"].split(".")[0]
        assert 1 <= int(limited.headers["Retry-After"]) <= 600
    assert answers["alice"] == answers["nobody"] == "Too many failed logins for this username"
    assert login(server, "alice", PASSPHRASE).status_code == 429
    bearer = {"Authorization": f"Bearer {token}"}
    resource = requests.get(f"{server.url}/api/resource", headers=bearer, timeout=60)
    assert resource.status_code == 200
    assert "Retry-After" not in resource.headers
    assert login(server, "bob", PASSPHRASE).status_code == 200
    # Registrations, counted per address across every worker: two already, 18 to go.
    statuses = [register_live(server, f"user{n}").status_code for n in range(19)]
    assert statuses == [201] * 18 + [429]


class Load:
    """Requests sent one after the other from a thread until stopped: a token and a wrong
    password in turn, each for a new name. Keeps every status."""

    def __init__(self, server, token):
        self.server, self.token, self.statuses = server, token, []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self):
        bearer = {"Authorization": f"Bearer {self.token}"}
        for number in itertools.count():
            if self.stopping.is_set():
                return
            url = f"{self.server.url}/api/resource"
            self.statuses.append(requests.get(url, headers=bearer, timeout=60).status_code)
            self.statuses.append(login(self.server, f"load{number}").status_code)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stopping.set()
        self.thread.join()


def wait_for_requests(load, count, timeout=60):
    deadline, start = time.monotonic() + timeout, len(load.statuses)
    while len(load.statuses) < start + count:
        assert time.monotonic() < deadline, "the load stalled"
        time.sleep(0.05)


def counted_in_redis(redis_server, username) -> bool:
    return bool(redis_server.client().keys(f"*FAILED_LOGINS_PER_USERNAME/{username}/*"))


def test_redis_stopped_and_started_again_under_load(live_server, redis_server):
    env = {
        "FLASK_RATELIMIT_ENABLED": "true",
        "FLASK_RATELIMIT_STORAGE_URI": redis_server.url,
        "FLASK_FAILED_LOGINS_PER_ADDRESS": "100000 per 10 minutes",  # the load sends hundreds
    }
    server = live_server(6, target="serve", make_vars={"WORKERS": "2"}, env=env)
    assert register_live(server, "alice").status_code == 201
    token = login(server, "alice", PASSPHRASE, "/api/tokens").json()["access_token"]
    assert login(server, "alice").status_code == 401
    assert counted_in_redis(redis_server, "alice")
    with Load(server, token) as load:
        wait_for_requests(load, 10)
        redis_server.stop()
        wait_for_requests(load, 40)  # each worker finds Redis gone, some mid-request
        # The limits go on in each worker's memory.
        verified = at_once(server, "bob")
        assert LIMIT <= verified <= 2 * LIMIT, (
            f"wrong passwords verified of 20 at once, Redis away: expected {LIMIT} to "
            f"{2 * LIMIT}, got {verified}"
        )
        redis_server.start()  # empty, as a restarted Redis is
        # Flask-Limiter tries Redis again after a growing pause (1, 2, 4 ... 32 s).
        deadline, in_a_row = time.monotonic() + 90, 0
        for number in itertools.count():
            assert time.monotonic() < deadline, "the workers never used Redis again"
            assert login(server, f"probe{number}").status_code == 401
            in_a_row = in_a_row + 1 if counted_in_redis(redis_server, f"probe{number}") else 0
            if in_a_row == 20:  # both workers, most likely, count in Redis again
                break
    assert load.statuses and max(load.statuses) < 500, sorted(set(load.statuses))
    assert set(load.statuses[0::2]) == {200}  # the token worked all along
    verified = at_once(server, "carol")  # one count again, shared
    assert LIMIT <= verified <= LIMIT + 1, (
        f"wrong passwords verified of 20 at once, Redis back: expected {LIMIT} to "
        f"{LIMIT + 1}, got {verified}"
    )
    # One line per worker that found Redis gone (the log holds no traceback: live_server).
    warnings = [line for line in server.log_text().splitlines() if "storage unreachable" in line]
    assert 1 <= len(warnings) <= 2, (
        f"warning lines about the store in the log: expected 1 or 2, got {len(warnings)}: "
        f"{warnings}"
    )


def test_make_redis_serves_a_redis_that_keeps_nothing_on_disk(redis_server, tmp_path):
    port = free_port()
    command = ["make", "--no-print-directory", "-C", str(ROOT), "redis", f"REDIS_PORT={port}"]
    with open(tmp_path / "redis.log", "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        started = RedisServer(f"redis://127.0.0.1:{port}")
        started.wait()
        assert started.client().config_get("save") == {"save": ""}
        assert started.client().config_get("appendonly") == {"appendonly": "no"}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    printed = (tmp_path / "redis.log").read_text()
    assert f"FLASK_RATELIMIT_STORAGE_URI=redis://127.0.0.1:{port} make serve STEP=6" in printed
