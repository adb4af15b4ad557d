"""Live servers of steps 3 and 6 under simultaneous requests, and killed mid-flight.

The races share one server per step, and compare its database before and after; the
crash test starts its own. The rest of the reliability suite:
test_reliability_input.py (hostile bodies), test_reliability_headers.py (hostile
Authorization headers), test_reliability_secrets.py. Every live server's log is checked
for tracebacks when its test ends: see `live_servers` in conftest.py.
"""

import pytest
import requests

from steps import LAST
from tests.helpers import (
    PASSPHRASE,
    assert_problem,
    basic_auth,
    concurrently,
    live_steps,
    register_live,
    stored_users,
)

pytestmark = pytest.mark.live

# One server for both races, of the step that brings registration and of the complete app:
# step 4 runs the same code, which the in-process tests run on every step.
REGISTERING_SERVERS = pytest.mark.parametrize(
    "shared_live_server", live_steps(3, LAST), indirect=True, scope="module"
)


def assert_no_database_errors(responses):
    for response in responses:
        assert "database is locked" not in response.text, response.text
        assert response.status_code < 500, response.text


@REGISTERING_SERVERS
def test_twelve_registrations_of_one_name_at_once_make_one_user(shared_live_server):
    server = shared_live_server
    before = stored_users(server.database_url)
    responses = concurrently(lambda _: register_live(server, "racer"), range(12))
    assert_no_database_errors(responses)
    assert sorted(response.status_code for response in responses) == [201] + [409] * 11
    for response in responses:
        if response.status_code == 409:
            assert "already taken" in assert_problem(response, 409)["detail"]
    assert set(stored_users(server.database_url)) - set(before) == {"racer"}


@REGISTERING_SERVERS
def test_twenty_four_registrations_of_distinct_names_at_once_all_succeed(shared_live_server):
    server = shared_live_server
    before = stored_users(server.database_url)
    names = [f"user{number}" for number in range(24)]
    responses = concurrently(lambda name: register_live(server, name), names)
    assert_no_database_errors(responses)
    assert [response.status_code for response in responses] == [201] * 24
    assert [response.json()["username"] for response in responses] == names
    assert sorted(set(stored_users(server.database_url)) - set(before)) == sorted(names)


@pytest.mark.parametrize("step", live_steps(LAST))  # the complete app: register, then log in
def test_a_registered_user_survives_a_crash(live_server, step):
    server = live_server(step)
    assert register_live(server, "survivor").status_code == 201
    server.kill()  # SIGKILL: no shutdown code runs
    server.start()  # the same database, as after a restart
    response = requests.get(
        f"{server.url}/api/resource", headers=basic_auth("survivor", PASSPHRASE), timeout=60
    )
    assert response.status_code == 200
    assert response.json() == {"data": "Hello, survivor!"}
