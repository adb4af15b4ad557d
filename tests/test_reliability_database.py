"""A live server whose database stops answering for a while: busy on SQLite, down on PostgreSQL.

While the database cannot serve, every request that needs it is a 503 problem with a
Retry-After header, and the server logs one line, without a traceback and without the
statement's parameters. When the database is back, the same server process serves again,
and nothing stored before is lost. The SQLite test holds the write lock from a second
connection, as an open `make shell` transaction does; the PostgreSQL test runs under
`make test-postgres`, which lets it stop and start the throwaway server.
"""

import os
import shlex
import subprocess

import pytest
import requests

from steps import LAST
from tests.helpers import (
    HASH_PREFIXES,
    PASSPHRASE,
    assert_problem,
    basic_auth,
    register_live,
    sqlite_lock,
    step_mark,
    stored_users,
)

pytestmark = [pytest.mark.live, step_mark(LAST)]  # the complete app: every step has the code

POSTGRES_CTL = os.environ.get("TEST_POSTGRES_CTL")


def assert_unavailable(response):
    body = assert_problem(response, 503)
    assert int(response.headers["Retry-After"]) > 0  # seconds (RFC 9110 §10.2.3)
    assert "Try again" in body["detail"]


def assert_one_line_per_503(server, count):
    lines = [line for line in server.log_text().splitlines() if "database is unavailable" in line]
    assert len(lines) == count, server.log_text()
    for prefix in HASH_PREFIXES:  # no hash, and no other bound parameter
        assert prefix not in server.log_text()
    assert PASSPHRASE not in server.log_text()


@pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")), reason="holds an SQLite lock")
def test_a_busy_sqlite_database_is_503_then_serves_again(live_server, tmp_path):
    # SQLite's driver waits 5 s for a lock before it gives up; the URL makes it 1 s here.
    server = live_server(LAST, database_url=f"sqlite:///{tmp_path / 'busy.sqlite'}?timeout=1")
    assert register_live(server, "before").status_code == 201
    with sqlite_lock(server.database_url):  # the write lock: reads go on
        assert_unavailable(register_live(server, "during"))
        assert requests.get(f"{server.url}/api/users/1", timeout=60).status_code == 200
    assert register_live(server, "after").status_code == 201
    assert sorted(stored_users(server.database_url)) == ["after", "before"]
    assert_one_line_per_503(server, 1)


def postgres(action: str) -> None:
    subprocess.run([*shlex.split(POSTGRES_CTL), "-w", "-m", "fast", action], check=True)


@pytest.mark.skipif(not POSTGRES_CTL, reason="stops the PostgreSQL of make test-postgres")
def test_a_postgresql_server_that_goes_away_is_503_then_serves_again(live_server):
    server = live_server(LAST)
    assert register_live(server, "before").status_code == 201
    # Restarted while the app is idle: the pool tests each connection before use, so
    # the first request after the restart does not meet a connection that died.
    postgres("restart")
    assert requests.get(f"{server.url}/api/users/1", timeout=60).status_code == 200
    postgres("stop")
    try:
        assert_unavailable(register_live(server, "during"))
        assert_unavailable(requests.get(f"{server.url}/api/users/1", timeout=60))
        assert_unavailable(
            requests.get(
                f"{server.url}/api/resource", headers=basic_auth("before", PASSPHRASE), timeout=60
            )
        )
    finally:
        postgres("start")
    assert register_live(server, "after").status_code == 201
    response = requests.get(
        f"{server.url}/api/resource", headers=basic_auth("before", PASSPHRASE), timeout=60
    )
    assert response.json() == {"data": "Hello, before!"}
    assert sorted(stored_users(server.database_url)) == ["after", "before"]
    assert_one_line_per_503(server, 3)
