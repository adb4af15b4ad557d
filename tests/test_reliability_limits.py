"""Step 6's limits on real servers: the development server, gunicorn with one worker
counting in memory, and gunicorn with two workers sharing a real Redis, which is stopped
and started again under load.

These tests run with `make test-redis` (tests/redis.sh starts a throwaway redis-server and
runs the tests marked `redis`); `make test` skips them. The rules themselves are tested
in-process in test_step6_throttling.py.
"""

import contextlib
import itertools
import os
import signal
import subprocess
import threading
import time

import pytest
import requests

from steps import LAST
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
    """Requests of one kind, sent one after the other from a thread until stopped:
    `send(number)` sends the number-th. Keeps each answer's status and seconds."""

    def __init__(self, send):
        self.send, self.answers = send, []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self):
        for number in itertools.count():
            if self.stopping.is_set():
                return
            start = time.monotonic()
            status = self.send(number).status_code
            self.answers.append((status, time.monotonic() - start))

    @property
    def statuses(self) -> list[int]:
        return [status for status, _ in self.answers]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stopping.set()
        self.thread.join()


@contextlib.contextmanager
def under_load(server, token):
    """Yield three loads that run side by side: wrong passwords, each for a new name; the
    token; and the public lookup, which no limit counts."""
    bearer = {"Authorization": f"Bearer {token}"}
    loads = {
        "password": Load(lambda number: login(server, f"load{number}")),
        "token": Load(
            lambda _: requests.get(f"{server.url}/api/resource", headers=bearer, timeout=60)
        ),
        "public": Load(lambda _: requests.get(f"{server.url}/api/users/1", timeout=60)),
    }
    with contextlib.ExitStack() as stack:
        for load in loads.values():
            stack.enter_context(load)
        yield loads


def wait_for_requests(load, count, timeout=60):
    deadline, start = time.monotonic() + timeout, len(load.answers)
    while len(load.answers) < start + count:
        assert time.monotonic() < deadline, "the load stalled"
        time.sleep(0.05)


def counted_in_redis(redis_server, username) -> bool:
    return bool(redis_server.client().keys(f"*FAILED_LOGINS_PER_USERNAME/{username}/*"))


def shared_again(server, redis_server, within: float) -> float:
    """Seconds until twenty wrong passwords in a row are counted in Redis (both workers,
    most likely, count there again); fails after `within` seconds."""
    start = time.monotonic()
    in_a_row = 0
    for number in itertools.count():
        assert time.monotonic() - start < within, "the workers never used Redis again"
        assert login(server, f"probe{number}").status_code == 401
        in_a_row = in_a_row + 1 if counted_in_redis(redis_server, f"probe{number}") else 0
        if in_a_row == 20:
            return time.monotonic() - start


def shared_server(live_server, redis_server):
    """Step 6 under gunicorn with two workers sharing Redis, alice registered: (it, a token)."""
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
    return server, token


def store_warnings(server) -> list[str]:
    """One line per worker that found Redis gone (the log holds no traceback: live_server)."""
    return [line for line in server.log_text().splitlines() if "storage unreachable" in line]


def test_redis_stopped_and_started_again_under_load(live_server, redis_server):
    server, token = shared_server(live_server, redis_server)
    with under_load(server, token) as loads:
        wait_for_requests(loads["password"], 10)
        redis_server.stop()
        wait_for_requests(loads["password"], 20)  # each worker finds Redis gone, some mid-request
        # The limits go on in each worker's memory.
        verified = at_once(server, "bob")
        assert LIMIT <= verified <= 2 * LIMIT, (
            f"wrong passwords verified of 20 at once, Redis away: expected {LIMIT} to "
            f"{2 * LIMIT}, got {verified}"
        )
        redis_server.start()  # empty, as a restarted Redis is
        shared_again(server, redis_server, within=35)
    for load in loads.values():
        assert load.statuses and max(load.statuses) < 500, sorted(set(load.statuses))
    assert set(loads["token"].statuses) == {200}  # the token worked all along
    assert LIMIT <= at_once(server, "carol") <= LIMIT + 1  # one count again, shared
    assert 1 <= len(store_warnings(server)) <= 2, store_warnings(server)


STORE_TIME_LIMIT = 0.2  # seconds, for each call on the store: step 6's default


def test_a_paused_redis_holds_no_request_longer_than_its_time_limit(live_server, redis_server):
    server, token = shared_server(live_server, redis_server)
    with under_load(server, token) as loads:
        wait_for_requests(loads["password"], 10)
        redis_server.signal(signal.SIGSTOP)  # takes connections, answers nothing
        try:
            for load in loads.values():
                wait_for_requests(load, 20)
        finally:
            redis_server.signal(signal.SIGCONT)
        shared_again(server, redis_server, within=35)
    for kind, load in loads.items():
        statuses = set(load.statuses)
        assert statuses == ({401} if kind == "password" else {200}), (kind, statuses)
        slowest = max(seconds for _, seconds in load.answers)
        assert slowest <= STORE_TIME_LIMIT + 1, (kind, slowest)
    assert 1 <= len(store_warnings(server)) <= 2, store_warnings(server)


TWO_WINDOWS = "2 per 2 seconds; 3 per 5 seconds"


@pytest.mark.parametrize("setting", ["REGISTRATIONS_PER_ADDRESS", "FAILED_LOGINS_PER_USERNAME"])
def test_a_client_that_waits_retry_after_is_not_refused_by_any_window(
    live_server, redis_server, setting
):
    env = {
        "FLASK_RATELIMIT_ENABLED": "true",
        "FLASK_RATELIMIT_STORAGE_URI": redis_server.url,
        f"FLASK_{setting}": TWO_WINDOWS,
    }
    server = live_server(6, target="serve", make_vars={"WORKERS": "2"}, env=env)
    names = (f"user{number}" for number in itertools.count())

    def send():
        if setting == "REGISTRATIONS_PER_ADDRESS":
            return register_live(server, next(names))
        return login(server, "alice")

    waits = []
    for _ in range(3):
        for _ in range(3):  # until the next 429
            response = send()
            if response.status_code == 429:
                break
        assert_problem(response, 429)
        seconds = int(response.headers["Retry-After"])
        # A refused request takes no place in any window: the wait does not grow.
        again = send()
        assert again.status_code == 429 and int(again.headers["Retry-After"]) <= seconds
        time.sleep(seconds)
        assert send().status_code in (201, 401)
        waits.append(seconds)
    assert max(waits) > 2  # the 5-second window made the client wait too


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
    store = f"FLASK_RATELIMIT_STORAGE_URI=redis://127.0.0.1:{port}"
    assert f"{store} make serve STEP={LAST}" in printed
