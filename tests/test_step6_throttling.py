"""Step 6: failed logins and registrations are limited (Flask-Limiter, moving windows).

The limits are on in this module only (marker `limits`): the other steps' tests run step 6
with them off, as a load test would. The same rules against the development server, gunicorn
and a shared Redis: test_reliability_limits.py (`make test-redis`); the step's README session
and notebook show them on a live server too.
"""

import contextlib
import logging
import re
import threading
import time

import pytest
from flask import Flask

from tests.helpers import (
    PASSPHRASE,
    HashSpy,
    assert_count,
    assert_problem,
    basic_auth,
    concurrently,
    steps_from,
    stops_the_start,
)

pytestmark = [pytest.mark.parametrize("step", steps_from(6), indirect=True), pytest.mark.limits]

WRONG = "not-the-right-passphrase"
DIGITS = re.compile(r"\d+")  # the seconds to wait, which change while a test runs
ELSEWHERE = {"environ_base": {"REMOTE_ADDR": "192.0.2.7"}}  # another client


def guess(client, username, password=WRONG, route="/api/resource", headers=(), **options):
    """One attempt with HTTP Basic credentials, on one of the routes that take them."""
    method = client.post if route == "/api/tokens" else client.get
    return method(route, headers={**basic_auth(username, password), **dict(headers)}, **options)


def fail(client, username, times, **options):
    for _ in range(times):
        assert guess(client, username, **options).status_code == 401


def assert_limited(response, what: str) -> int:
    """A 429 problem that says what is limited, and in how many seconds to try again: the
    number that Retry-After gives (RFC 6585 §4)."""
    problem = assert_problem(response, 429)
    assert what in problem["detail"]
    seconds = int(response.headers["Retry-After"])
    assert str(seconds) in problem["detail"]
    return seconds


class Clock:
    """Stands in for time.time, which the moving windows and the 429's seconds read."""

    def __init__(self):
        self.now = time.time()

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    """time.time, stopped until the test moves it: wherever it is read, by any design."""
    stopped = Clock()
    monkeypatch.setattr(time, "time", stopped.time)
    return stopped


def assert_a_retry_succeeds_after(clock, seconds: int, retry, status: int) -> None:
    """Retry-After gives the moment a retry can succeed (RFC 9110 §10.2.3): a retry then
    gets `status`, and one a second earlier still gets the 429."""
    limited_at = clock.now
    clock.now = limited_at + seconds - 1
    early = retry().status_code
    assert early == 429, (
        f"a retry {seconds - 1} s later, before Retry-After: expected 429, got {early}"
    )
    clock.now = limited_at + seconds + 0.01
    then = retry().status_code
    assert then == status, (
        f"a retry {seconds} s later, as Retry-After says: expected {status}, got {then}"
    )


def register(client, username, **options):
    return client.post(
        "/api/users", json={"username": username, "password": PASSPHRASE}, **options
    )


def test_the_limits_are_settings_with_these_defaults(app):
    assert app.config.get("FAILED_LOGINS_PER_USERNAME") == "10 per 10 minutes; 100 per day"
    assert app.config.get("FAILED_LOGINS_PER_ADDRESS") == "50 per 10 minutes"
    assert app.config.get("REGISTRATIONS_PER_ADDRESS") == "20 per hour"
    assert app.config.get("RATELIMIT_STRATEGY") == "moving-window"
    assert app.config.get("RATELIMIT_STORAGE_URI") == "memory://"
    # A store that does not answer holds no request long (redis-py's options: seconds).
    options = app.config.get("RATELIMIT_STORAGE_OPTIONS")
    assert 0 < options["socket_connect_timeout"] < 1 and 0 < options["socket_timeout"] < 1
    assert options["retry"] is None  # redis-py retries three times by default, with pauses


def test_the_eleventh_wrong_password_for_a_name_is_a_429_with_retry_after(client, add_user, clock):
    add_user("alice")
    fail(client, "alice", 10)
    clock.now += 0.5  # time passes between requests, as on a server: no whole-second edge
    response = guess(client, "alice")
    seconds = assert_limited(response, "failed logins for this username")
    assert "WWW-Authenticate" not in response.headers
    # The oldest failure leaves the ten-minute window: the right password gets in.
    assert_a_retry_succeeds_after(clock, seconds, lambda: guess(client, "alice", PASSPHRASE), 200)


def test_a_limited_request_computes_no_hash(client, add_user, spy):
    add_user("alice")
    fail(client, "alice", 10)
    spy.verified.clear()
    assert guess(client, "alice").status_code == 429
    assert guess(client, "nobody", route="/api/tokens").status_code == 401
    # Nobody's, against the dummy hash: not alice's
    assert_count("password verifications", len(spy.verified), 1)


def test_while_a_name_is_limited_its_correct_password_gets_the_429_too(client, add_user):
    add_user("alice")
    fail(client, "alice", 10)
    assert_limited(guess(client, "alice", PASSPHRASE), "for this username")
    assert_limited(guess(client, "alice", PASSPHRASE, route="/api/tokens"), "for this username")


def test_an_unknown_name_is_limited_exactly_like_a_known_one(client, add_user):
    add_user("alice")
    answers = {}
    for name in ("alice", "nobody"):
        responses = [guess(client, name) for _ in range(12)]
        answers[name] = [(r.status_code, DIGITS.sub("", r.json["detail"])) for r in responses]
    assert answers["alice"] == answers["nobody"]
    assert [status for status, _ in answers["alice"]] == [401] * 10 + [429] * 2


def test_a_name_is_counted_as_rfc_8265_prepares_it(client, add_user):
    add_user("alice")
    fail(client, "alice", 5)
    fail(client, "ａｌｉｃｅ", 5)  # fullwidth letters: the same account
    assert_limited(guess(client, "alice", PASSPHRASE), "for this username")


def test_both_routes_that_take_a_password_share_one_count(client, add_user):
    add_user("alice")
    fail(client, "alice", 5, route="/api/tokens")
    fail(client, "alice", 5)
    assert_limited(guess(client, "alice", route="/api/tokens"), "for this username")
    assert_limited(guess(client, "alice"), "for this username")


def test_a_token_keeps_working_while_its_password_is_limited(client, add_user):
    add_user("alice")
    token = guess(client, "alice", PASSPHRASE, route="/api/tokens").json["access_token"]
    fail(client, "alice", 10)
    assert guess(client, "alice", PASSPHRASE, route="/api/tokens").status_code == 429
    bearer = {"Authorization": f"Bearer {token}"}
    response = client.get("/api/resource", headers=bearer)
    assert response.status_code == 200
    assert response.json == {"data": "Hello, alice!"}
    assert client.delete("/api/tokens", headers=bearer).status_code == 204


def test_other_names_are_not_limited_by_one_that_is(client, add_user):
    add_user("alice")
    add_user("bob")
    fail(client, "alice", 10)
    assert guess(client, "bob", PASSPHRASE).status_code == 200
    assert guess(client, "bob").status_code == 401


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer fra_unknown", "Basic !!junk!!", 'Digest username="alice"'],
    ids=["no-credentials", "unknown-token", "malformed-basic", "other-scheme"],
)
def test_a_request_without_a_password_is_no_attempt(client, add_user, authorization):
    add_user("alice")
    headers = {"Authorization": authorization} if authorization else {}
    for _ in range(30):  # more than the 10 of the name and, twice over, the 50 of the address
        assert client.get("/api/resource", headers=headers).status_code == 401
        assert client.post("/api/tokens", headers=headers).status_code == 401
    fail(client, "alice", 10)
    assert guess(client, "alice").status_code == 429


def test_a_successful_login_neither_counts_nor_resets_the_count(client, add_user):
    add_user("alice")
    fail(client, "alice", 9)
    for _ in range(12):
        assert guess(client, "alice", PASSPHRASE).status_code == 200
    fail(client, "alice", 1)
    assert_limited(guess(client, "alice", PASSPHRASE), "for this username")


def test_the_fifty_first_failure_from_one_address_is_a_429_whatever_the_name(client, add_user):
    add_user("bob")
    for number in range(50):
        assert guess(client, f"user{number}").status_code == 401
    assert 1 <= assert_limited(guess(client, "bob", PASSPHRASE), "from your address") <= 600
    assert guess(client, "bob", PASSPHRASE, **ELSEWHERE).status_code == 200


@pytest.mark.parametrize(
    "first, second, counted_together",
    [
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", True),
        ("2001:db8:1:2::1", "2001:db8:1:3::1", False),
        ("::ffff:192.0.2.1", "192.0.2.1", True),
        ("192.0.2.1", "192.0.2.2", False),
    ],
    ids=["same-ipv6-64", "other-ipv6-64", "ipv4-mapped", "other-ipv4"],
)
def test_an_ipv6_client_is_counted_by_its_64(app, client, first, second, counted_together):
    app.config["FAILED_LOGINS_PER_ADDRESS"] = "3 per 10 minutes"
    for number in range(3):
        fail(client, f"user{number}", 1, environ_base={"REMOTE_ADDR": first})
    response = guess(client, "user9", environ_base={"REMOTE_ADDR": second})
    assert response.status_code == (429 if counted_together else 401)


def test_x_forwarded_for_is_not_trusted_by_default(app, client):
    app.config["FAILED_LOGINS_PER_ADDRESS"] = "3 per 10 minutes"
    for number in range(3):
        fail(client, f"user{number}", 1, headers={"X-Forwarded-For": f"198.51.100.{number}"})
    response = guess(client, "user9", headers={"X-Forwarded-For": "198.51.100.9"})
    assert_limited(response, "from your address")


@pytest.fixture
def another_app(app, step):
    """Another app of the step on the same database, with other settings: another_app(**)."""
    made = []

    def make(**settings):
        made.append(step.create_app({**app.config, **settings}))
        return made[-1]

    yield make
    for other in made:
        with other.app_context():
            step.db.engine.dispose()


def test_behind_a_proxy_the_client_is_the_entry_the_proxy_added(another_app):
    behind = another_app(BEHIND_PROXY=True, FAILED_LOGINS_PER_ADDRESS="3 per 10 minutes")
    client = behind.test_client()
    for number in range(3):  # a client may send any X-Forwarded-For; the proxy adds the last
        forwarded = {"X-Forwarded-For": f"203.0.113.{number}, 198.51.100.1"}
        fail(client, f"user{number}", 1, headers=forwarded)
    limited = guess(client, "user9", headers={"X-Forwarded-For": "198.51.100.1"})
    assert_limited(limited, "from your address")
    assert guess(client, "user9", headers={"X-Forwarded-For": "198.51.100.2"}).status_code == 401


def test_the_twenty_first_registration_from_an_address_in_an_hour_is_a_429(client, clock):
    # Every request counts, whatever its answer: each that stores a user costs a slow hash.
    statuses = [register(client, f"user{number % 15}").status_code for number in range(18)]
    statuses += [client.post("/api/users", json={"username": "x"}).status_code for _ in range(2)]
    assert statuses == [201] * 15 + [409] * 3 + [400] * 2
    clock.now += 0.5  # time passes between requests, as on a server: no whole-second edge
    response = register(client, "late")
    seconds = assert_limited(response, "registrations from your address")
    assert register(client, "late", **ELSEWHERE).status_code == 201
    # Logging in and tokens are not registrations.
    token = guess(client, "user0", PASSPHRASE, route="/api/tokens").json["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/resource", headers=bearer).status_code == 200
    # The first registration leaves the hour's window: the next one is stored.
    assert_a_retry_succeeds_after(clock, seconds, lambda: register(client, "later"), 201)


def test_no_answer_but_a_429_carries_a_rate_limit_header(client, add_user):
    add_user("alice")
    responses = [
        register(client, "bob"),
        register(client, "bob"),
        client.get("/api/users/1"),
        guess(client, "alice", PASSPHRASE),
        guess(client, "alice"),
        client.get("/api/resource"),
    ]
    assert [r.status_code for r in responses] == [201, 409, 200, 200, 401, 401]
    for response in responses:
        names = [name.lower() for name, _ in response.headers]
        assert not [name for name in names if "ratelimit" in name or name == "retry-after"]


def test_the_day_limit_holds_after_the_ten_minute_windows_have_passed(client, add_user, clock):
    add_user("alice")
    waits = []
    for _ in range(10):
        fail(client, "alice", 10)
        clock.now += 0.5  # time passes between requests, as on a server
        waits.append(assert_limited(guess(client, "alice"), "for this username"))
        clock.now += 600
    # Each ten-minute window has room again 600 s after its oldest failure, 599.5 s after
    # the 429: a retry succeeds in the 600th second. The 100th failure fills both windows,
    # and Retry-After waits for the one that frees last, the day's.
    assert set(waits[:-1]) == {600} and waits[-1] > 600
    seconds = assert_limited(guess(client, "alice", PASSPHRASE), "for this username")
    assert seconds > 600  # the day limit answers, not the ten-minute one


def test_with_the_limits_off_nothing_is_limited(add_user, another_app):
    off = another_app(RATELIMIT_ENABLED=False).test_client()
    add_user("alice")
    fail(off, "alice", 30)
    assert [register(off, f"user{n}").status_code for n in range(25)] == [201] * 25


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("FAILED_LOGINS_PER_USERNAME", "ten per minute", "must be limits such as"),
        ("FAILED_LOGINS_PER_ADDRESS", "", "must be limits such as"),
        ("REGISTRATIONS_PER_ADDRESS", "20", "must be text"),
        ("RATELIMIT_ENABLED", "no", "must be true or false"),
    ],
)
def test_a_limit_written_wrong_stops_the_start(step, monkeypatch, name, value, words):
    monkeypatch.setenv(f"FLASK_{name}", value)
    with stops_the_start(f"FLASK_{name}", words):
        step.configure(Flask(step.modules[0].__name__))  # what create_app calls first


def test_the_limits_and_their_store_are_read_from_flask_variables(step, monkeypatch):
    monkeypatch.setenv("FLASK_FAILED_LOGINS_PER_USERNAME", "3 per minute")
    monkeypatch.setenv("FLASK_RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379")
    monkeypatch.setenv("FLASK_RATELIMIT_ENABLED", "false")
    options = '{"socket_connect_timeout": 0.5, "socket_timeout": 0.5, "retry": null}'
    monkeypatch.setenv("FLASK_RATELIMIT_STORAGE_OPTIONS", options)
    app = Flask(step.modules[0].__name__)
    step.configure(app)
    assert app.config["RATELIMIT_STORAGE_OPTIONS"]["socket_timeout"] == 0.5
    assert app.config["FAILED_LOGINS_PER_USERNAME"] == "3 per minute"
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379"
    assert app.config["RATELIMIT_ENABLED"] is False


class Meeting(HashSpy):
    """A PassLib context whose verify waits, up to half a second, for a second one to begin."""

    def __init__(self, context):
        super().__init__(context)
        self.together = threading.Barrier(2, timeout=0.5)

    def verify(self, password, stored_hash):
        with contextlib.suppress(threading.BrokenBarrierError):
            self.together.wait()  # passes only if two verifications run at once
        return self.context.verify(password, stored_hash)


def test_two_guesses_for_one_name_at_once_are_checked_one_after_the_other(
    app, add_user, step, monkeypatch
):
    add_user("alice")
    client = app.test_client()
    fail(client, "alice", 9)
    step.replace(monkeypatch, "pwd_context", Meeting(step.pwd_context))
    responses = concurrently(lambda _: guess(app.test_client(), "alice"), range(2))
    # Checked at once, both would pass the check at 9 failures and be verified.
    assert sorted(response.status_code for response in responses) == [401, 429]


def test_guesses_for_other_names_from_one_address_at_once_count_each_other(app, step, monkeypatch):
    client = app.test_client()
    for number in range(49):  # one short of the address's limit
        assert guess(client, f"user{number}").status_code == 401
    step.replace(monkeypatch, "pwd_context", Meeting(step.pwd_context))
    responses = concurrently(lambda name: guess(app.test_client(), name), ["carol", "dave"])
    # Each name has its own lock: checked side by side, both would pass at 49 failures.
    assert sorted(response.status_code for response in responses) == [401, 429]
    (limited,) = [response for response in responses if response.status_code == 429]
    # Full only with the guess still running: a second's wait, not the window's minutes.
    assert assert_limited(limited, "from your address") == 1
    assert guess(client, "erin").status_code == 429  # 50 failures: the window is full
    # Every guess let through was counted, or let go, never left to fill a window: from
    # another address, each name takes the rest of its ten failures, then its 429.
    for name, response in zip(["carol", "dave"], responses, strict=True):
        left = 10 - (response.status_code == 401)
        statuses = [guess(client, name, **ELSEWHERE).status_code for _ in range(left + 1)]
        assert statuses == [401] * left + [429], f"guesses for {name} from elsewhere"


def test_a_guess_for_one_name_does_not_wait_for_a_hash_of_another(
    app, add_user, step, monkeypatch
):
    add_user("alice")
    inside, bob_answered, waited = threading.Event(), threading.Event(), []

    class Holding(Meeting):
        def verify(self, password, stored_hash):
            if password == "alice-guess-that-waits":
                inside.set()
                waited.append(bob_answered.wait(timeout=10))
            return self.context.verify(password, stored_hash)

    step.replace(monkeypatch, "pwd_context", Holding(step.pwd_context))
    alice = threading.Thread(
        target=guess, args=(app.test_client(), "alice", "alice-guess-that-waits")
    )
    alice.start()
    assert inside.wait(timeout=10)
    assert guess(app.test_client(), "bob").status_code == 401  # while alice's hash runs
    bob_answered.set()
    alice.join()
    assert waited == [True]


class Store:
    """Counts the calls on the limiter's store (limits' Storage) and fails those named in
    `failing` with the error the store raises (for Redis, RedisError): a store that does
    not answer in time."""

    METHODS = ("acquire_entry", "get_moving_window", "incr", "get", "clear", "check", "reset")

    def __init__(self, storage, monkeypatch):
        self.calls, self.failing, self.error = [], set(), storage.base_exceptions
        for name in self.METHODS:
            monkeypatch.setattr(storage, name, self.wrap(name, getattr(storage, name)))

    def wrap(self, name, method):
        def called(*arguments, **options):
            self.calls.append(name)
            if name in self.failing:
                raise self.error("the store does not answer")
            return method(*arguments, **options)

        return called


@pytest.fixture
def store(step, monkeypatch):
    return Store(step.limiter.storage, monkeypatch)


def store_warnings(caplog) -> list:
    """The warning lines in the log while the store fails, in any words (a learner words
    them): every record of WARNING or above, each one line, with no traceback."""
    found = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in found)
    return found


def test_a_store_that_fails_between_the_check_and_the_count_falls_back_to_memory(
    client, add_user, store, caplog
):
    """Redis going away in the middle of a request: no 500, one line in the log, and the
    failures go on being counted in the process's memory."""
    add_user("alice")
    store.failing = {"acquire_entry"}  # the checks answer, the counting does not
    with caplog.at_level(logging.WARNING):
        fail(client, "alice", 10)
        assert_limited(guess(client, "alice"), "for this username")
    assert_count("warning lines about the store in the log", len(store_warnings(caplog)), 1)


# After a call on the store fails, the process counts in memory, and asks the store again
# this many seconds later (the step 6 README's promise).
STORE_RETRY = 10


def test_the_first_store_call_that_fails_moves_the_request_and_the_process_to_memory(
    client, add_user, store, step, clock, caplog
):
    add_user("alice")
    store.failing = set(Store.METHODS)
    with caplog.at_level(logging.WARNING):
        assert guess(client, "alice").status_code == 401
        assert store.calls == ["get_moving_window"]  # one call waited for, none after it
        fail(client, "alice", 8)  # nine failures, counted in memory
        assert store.calls == ["get_moving_window"]  # the process does not ask again at once
        clock.now += STORE_RETRY
        assert guess(client, "alice").status_code == 401  # asked again: still away
        assert store.calls == ["get_moving_window"] * 2
        assert_limited(guess(client, "alice"), "for this username")  # ten, in memory
        store.failing = set()
        clock.now += STORE_RETRY
        # The store answers again, and is used again: it never saw alice's failures.
        assert guess(client, "alice").status_code == 401
        assert "acquire_entry" in store.calls
    # One line when the store went away, not one each time it is asked.
    assert_count("warning lines about the store in the log", len(store_warnings(caplog)), 1)


@pytest.mark.parametrize("store_away", [False, True], ids=["store-answers", "store-away"])
def test_requests_that_no_limit_counts_make_no_call_on_the_store(
    client, add_user, store, step, clock, store_away
):
    add_user("alice")
    token = guess(client, "alice", PASSPHRASE, route="/api/tokens").json["access_token"]
    if store_away:  # a password request found it away, long enough ago to try it again
        store.failing = set(Store.METHODS)
        assert guess(client, "alice").status_code == 401
        clock.now += STORE_RETRY
    store.calls.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    responses = [
        client.get("/api/resource", headers=bearer),
        client.get("/api/users/1"),
        client.options("/api/resource"),
        client.options("/api/users"),
        client.get("/api/resource"),  # no credentials
        client.delete("/api/tokens", headers=bearer),
    ]
    assert [response.status_code for response in responses] == [200, 200, 200, 200, 401, 204]
    assert store.calls == []
    assert guess(client, "alice").status_code == 401
    assert store.calls  # a password is counted: it does call the store


# Two windows of a few seconds, as FLASK_<SETTING> would set them.
TWO_WINDOWS = "2 per 4 seconds; 3 per 10 seconds"


@pytest.mark.parametrize(
    "setting",
    ["REGISTRATIONS_PER_ADDRESS", "FAILED_LOGINS_PER_USERNAME", "FAILED_LOGINS_PER_ADDRESS"],
)
def test_after_waiting_retry_after_a_retry_is_not_refused_by_any_window(
    another_app, clock, setting
):
    client = another_app(**{setting: TWO_WINDOWS}).test_client()
    names = (f"user{number}" for number in range(1000))

    def send():
        if setting == "REGISTRATIONS_PER_ADDRESS":
            return register(client, next(names))
        return guess(client, "alice" if setting == "FAILED_LOGINS_PER_USERNAME" else next(names))

    waits = []
    for _ in range(6):
        for _ in range(4):  # until the next 429
            response = send()
            if response.status_code == 429:
                break
        seconds = assert_limited(response, "")
        # A refused request takes no place in any window: the wait stays the same.
        assert [assert_limited(send(), "") for _ in range(3)] == [seconds] * 3
        clock.now += seconds
        assert send().status_code != 429
        waits.append(seconds)
    assert max(waits) > 5  # the 10-second window made the client wait too, not only the 4


def test_a_name_longer_than_any_accounts_is_counted_unprepared_under_one_key(
    client, step, monkeypatch
):
    prepared = []
    prepare = step.prepare

    def counting(field, value, *options):
        prepared.append(len(value))
        return prepare(field, value, *options)

    step.replace(monkeypatch, "prepare", counting)
    for number in range(10):  # another name each time: 129 to 8,000 characters
        assert guess(client, "x" * 120 + str(number) * (9 + number * 800)).status_code == 401
    prepared.clear()
    assert_limited(guess(client, "y" * 8000), "for this username")
    assert prepared == []  # nothing in proportion to the name before the 429
    keys = [key for key in step.limiter.storage.events if "PER_USERNAME" in key]
    assert len({key.split("/")[2] for key in keys}) == 1  # one name for all, in each window
    assert max(len(key) for key in keys) < 100  # whatever the length of the names sent


@pytest.mark.parametrize(
    "sent, stored",
    [
        ("e\u0301" * 32, "\u00e9" * 32),  # 64 code points, 32 once composed (NFC)
        ("\u03b1\u0313\u0301\u0345" * 32, "\u1f84" * 32),  # 128 code points: four to one
    ],
    ids=["two-code-points-to-one", "four-code-points-to-one"],
)
def test_a_long_spelling_of_an_accounts_name_counts_for_the_account(
    client, add_user, sent, stored
):
    add_user(stored)
    fail(client, stored, 5)
    fail(client, sent, 5)
    assert_limited(guess(client, stored, PASSPHRASE), "for this username")
