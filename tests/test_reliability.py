"""Live servers of steps 3 and 4 under concurrent requests, a crash, and a hunt for secrets.

Each test starts its own server on a new database. (Hostile bodies and headers:
test_reliability_input.py and test_reliability_headers.py. Every live server's log is
checked for tracebacks when its test ends: see `live_servers` in conftest.py.)
"""

import base64
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy.engine import make_url

from tests.helpers import PASSPHRASE, assert_problem, basic_auth, register_live, stored_users

pytestmark = pytest.mark.live

BOTH_STEPS = pytest.mark.parametrize(
    "step",
    [pytest.param(3, marks=pytest.mark.step3), pytest.param(4, marks=pytest.mark.step4)],
    ids=["step3", "step4"],
)


def concurrently(function, arguments):
    """Call function(argument) for every argument, each in its own thread, all at once."""
    start_together = threading.Barrier(len(arguments), timeout=60)

    def call(argument):
        start_together.wait()
        return function(argument)

    with ThreadPoolExecutor(max_workers=len(arguments)) as pool:
        return list(pool.map(call, arguments))


def assert_no_database_errors(responses):
    for response in responses:
        assert "database is locked" not in response.text, response.text
        assert response.status_code < 500, response.text


@BOTH_STEPS
def test_twelve_registrations_of_one_name_at_once_make_one_user(live_server, step):
    server = live_server(step)
    responses = concurrently(lambda _: register_live(server, "racer"), range(12))
    assert_no_database_errors(responses)
    assert sorted(response.status_code for response in responses) == [201] + [409] * 11
    for response in responses:
        if response.status_code == 409:
            assert "already taken" in assert_problem(response, 409)["detail"]
    assert list(stored_users(server.database_url)) == ["racer"]


@BOTH_STEPS
def test_twenty_four_registrations_of_distinct_names_at_once_all_succeed(live_server, step):
    server = live_server(step)
    names = [f"user{number}" for number in range(24)]
    responses = concurrently(lambda name: register_live(server, name), names)
    assert_no_database_errors(responses)
    assert [response.status_code for response in responses] == [201] * 24
    assert [response.json()["username"] for response in responses] == names
    assert sorted(stored_users(server.database_url)) == sorted(names)


@pytest.mark.step4
def test_a_registered_user_survives_a_crash(live_server):
    server = live_server(4)
    assert register_live(server, "survivor").status_code == 201
    server.kill()  # SIGKILL: no shutdown code runs
    server.start()  # the same database, as after a restart
    response = requests.get(
        f"{server.url}/api/resource", headers=basic_auth("survivor", PASSPHRASE), timeout=60
    )
    assert response.status_code == 200
    assert response.json() == {"data": "Hello, survivor!"}


SECRET = "plum-orbit-lantern-quiet-9431"  # appears nowhere else, so a find is a leak


def expose_the_secret(server):
    """Every request a client makes with the secret password; their responses."""
    url = server.url
    responses = [register_live(server, "keeper", SECRET)]
    responses.append(requests.get(responses[0].headers["Location"], timeout=60))
    for username, password in [("keeper", SECRET), ("keeper", "x" + SECRET), ("nobody", SECRET)]:
        headers = basic_auth(username, password)
        responses.append(requests.get(f"{url}/api/resource", headers=headers, timeout=60))
    responses.append(register_live(server, "keeper", SECRET))  # 409
    responses.append(register_live(server, "keeper:2", SECRET))  # 400
    assert [response.status_code for response in responses] == [201, 200, 200, 401, 401, 409, 400]
    return responses


@pytest.mark.step4
def test_no_response_contains_the_password_or_its_hash(live_server):
    server = live_server(4)
    responses = expose_the_secret(server)
    stored_hash = stored_users(server.database_url)["keeper"]
    for response in responses:
        seen = response.text + str(response.headers)
        assert SECRET not in seen
        assert stored_hash not in seen


@pytest.mark.step4
def test_no_log_line_contains_the_password(live_server):
    server = live_server(4)
    expose_the_secret(server)
    server.stop()
    log = server.log_text()
    assert "POST /api/users" in log  # the log does record every request
    assert SECRET not in log
    assert base64.b64encode(f"keeper:{SECRET}".encode()).decode() not in log


@pytest.mark.step4
def test_the_database_file_holds_the_hash_not_the_password(live_server):
    server = live_server(4)
    url = make_url(server.database_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("reads the bytes of an SQLite file")
    expose_the_secret(server)
    server.stop()
    files = sorted(Path(url.database).parent.glob(Path(url.database).name + "*"))
    stored = b"".join(path.read_bytes() for path in files)  # with any journal left over
    assert stored_users(server.database_url)["keeper"].encode() in stored
    assert SECRET.encode() not in stored
