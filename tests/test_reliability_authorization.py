"""Step 7's rules on real servers: the development server and gunicorn (`make run`, `make
serve`), on SQLite or PostgreSQL (`make test-postgres`), with the roles changed by
`make admin` in the server's own database, as the README does.

One session per server type goes through every route with every kind of caller (the table
of test_step7_authorization.py), then a demotion, deletes while tokens are in use, and two
deletes of one account at once. A copy of the step with a route that declares no rule, and
a database that step 6 made, are tried on servers of their own.
"""

import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import fresh_database_url
from tests.hashing import cheap_context
from tests.helpers import (
    PASSPHRASE,
    Step,
    assert_problem,
    basic_auth,
    concurrently,
    engines_disposed,
    register_live,
    stored_users,
)
from tests.live import ROOT, LiveServer, free_port
from tests.test_step7_authorization import ANSWERS, CALLERS, WRONG, assert_answer

pytestmark = [pytest.mark.live, pytest.mark.step7]

SERVERS = [
    pytest.param((7, target), id=f"step7-{target}", marks=pytest.mark.step7)
    for target in ("run", "serve")
]


def admin(server: LiveServer, name: str) -> subprocess.CompletedProcess:
    """`make admin` in the server's database, as the README runs it."""
    command = ["make", "--no-print-directory", "-C", str(ROOT), "admin", "STEP=7", f"NAME={name}"]
    return subprocess.run(
        command, env=server.environment(), capture_output=True, text=True, timeout=120
    )


def set_role(server: LiveServer, name: str, is_admin: bool) -> None:
    """What `make admin` does, without starting Flask each time: one UPDATE."""
    engine = create_engine(server.database_url)
    with engine.begin() as connection:
        statement = text("UPDATE users SET is_admin = :role WHERE username = :name")
        assert connection.execute(statement, {"role": is_admin, "name": name}).rowcount == 1
    engine.dispose()


def token_of(server: LiveServer, name: str) -> str:
    response = requests.post(
        f"{server.url}/api/tokens", headers=basic_auth(name, PASSPHRASE), timeout=60
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("shared_live_server", SERVERS, indirect=True, scope="module")
def test_every_rule_holds_on_a_real_server(shared_live_server):
    server = shared_live_server
    names = {who: f"{who}{len(stored_users(server.database_url))}" for who in ("a", "b", "c")}
    ids = {who: register_live(server, name).json()["id"] for who, name in names.items()}
    granted = admin(server, names["c"])
    assert (granted.returncode, granted.stdout) == (0, f"{names['c']} is now an admin.\n")

    # Each caller, each route: alice ("a") owns the account that the table calls 1.
    def tokens():
        return {"alice": token_of(server, names["a"]), "bob": token_of(server, names["b"])} | {
            "carol": token_of(server, names["c"])
        }

    def headers_of(caller, people):
        sent = CALLERS[caller](people)
        if "Authorization" in sent and sent["Authorization"].startswith("Basic "):
            user = "carol" if "admin" in caller else "alice"
            password = WRONG if "wrong" in caller else PASSPHRASE
            sent = basic_auth(names[user[0]], password)
        return sent

    people = tokens()
    for label, statuses in ANSWERS.items():
        if label.startswith("DELETE"):
            continue
        path = label.replace("/api/users/1", f"/api/users/{ids['a']}")
        method, target = path.split(" ")
        for caller, status in zip(CALLERS, statuses, strict=True):
            response = requests.request(
                method, server.url + target, headers=headers_of(caller, people), timeout=60
            )
            assert_answer(response, status, label, caller)
            people = tokens() if label == "DELETE /api/tokens" and status == 204 else people

    # 401, then 403, then the route: a plain user learns nothing of ids or queries.
    bob, carol = bearer(people["bob"]), bearer(people["carol"])
    missing = ids["c"] + 1000
    assert_problem(requests.delete(f"{server.url}/api/users/{ids['a']}", headers=bob), 403)
    assert_problem(requests.delete(f"{server.url}/api/users/{missing}", headers=bob), 403)
    assert_problem(requests.delete(f"{server.url}/api/users/{missing}", headers=carol), 404)
    assert_problem(requests.get(f"{server.url}/api/users?per_page=0", headers=bob), 403)
    assert_problem(requests.get(f"{server.url}/api/users?per_page=0", headers=carol), 400)
    body = {"username": f"x{missing}", "password": PASSPHRASE, "is_admin": True}
    assert (
        "is_admin"
        in assert_problem(requests.post(f"{server.url}/api/users", json=body), 400)["detail"]
    )

    # A demotion holds at the next request of the token in use, and a promotion too.
    set_role(server, names["c"], False)
    assert_problem(requests.get(f"{server.url}/api/users", headers=carol), 403)
    set_role(server, names["c"], True)
    assert requests.get(f"{server.url}/api/users", headers=carol).status_code == 200

    # Deleting an account while its token is in use: each request is a 200 or a 401, and
    # every one after the delete a 401.
    alice = bearer(people["alice"])
    with ThreadPoolExecutor(max_workers=4) as pool:
        using = [
            pool.submit(requests.get, f"{server.url}/api/resource", headers=alice, timeout=60)
            for _ in range(20)
        ]
        deleted = requests.delete(
            f"{server.url}/api/users/{ids['a']}", headers=basic_auth(names["a"], PASSPHRASE)
        )
        statuses = {future.result().status_code for future in using}
    assert deleted.status_code == 204
    assert statuses <= {200, 401}, statuses
    assert_problem(requests.get(f"{server.url}/api/resource", headers=alice), 401)
    assert names["a"] not in stored_users(server.database_url)
    again = register_live(server, names["a"])  # the name is free, under a new id
    assert again.status_code == 201 and again.json()["id"] > ids["c"]

    # Two deletes of one account at once: one 204, the other a 404 or a 401, never a 500.
    bob_token = bearer(people["bob"])
    responses = concurrently(
        lambda _: requests.delete(f"{server.url}/api/users/{ids['b']}", headers=bob_token),
        [1, 2],
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses in ([204, 401], [204, 404]), statuses


def test_a_route_that_declares_no_rule_is_403_on_a_real_server(live_server, tmp_path):
    copy = tmp_path / "step7_authorization"
    subprocess.run(
        ["cp", "-r", str(ROOT / "step7_authorization"), str(copy)], check=True, timeout=60
    )
    (copy / "api.py").write_text(
        (copy / "api.py").read_text()
        + '\n\n@api.get("/api/forgotten")\ndef forgotten():\n    return {"data": "open?"}\n'
    )
    workshop = {"WORKSHOP": "1", "WORKSHOP_DIR": str(tmp_path)}
    server = live_server(7, make_vars=workshop)
    register_live(server, "carol")
    set_role(server, "carol", True)
    for headers in ({}, basic_auth("carol", PASSPHRASE), bearer(token_of(server, "carol"))):
        assert_problem(requests.get(f"{server.url}/api/forgotten", headers=headers), 403)


@pytest.mark.parametrize("target", ["run", "serve"])
def test_a_database_of_step_6_stops_the_start_in_seconds_and_is_left_as_it_was(
    live_server, tmp_path, target, monkeypatch
):
    import step6_throttling  # its tables, as `make run STEP=6` makes them

    Step(step6_throttling).replace(monkeypatch, "pwd_context", cheap_context())
    url = fresh_database_url(tmp_path)
    with engines_disposed():
        step6_throttling.create_app({"SQLALCHEMY_DATABASE_URI": url}).test_client().post(
            "/api/users", json={"username": "alice", "password": PASSPHRASE}
        )
    before = stored_users(url)
    server = LiveServer(7, tmp_path, database_url=url)
    command = ["make", "--no-print-directory", "-C", str(ROOT), target, "STEP=7"]
    started = time.monotonic()
    result = subprocess.run(
        [*command, f"PORT={free_port()}", "WORKERS=1"],
        env=server.environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.monotonic() - started < 30
    assert result.returncode != 0
    said = [line for line in result.stderr.splitlines() if "made by an earlier step" in line]
    assert said and re.search(r"is_admin.*DATABASE_URL", said[-1]), result.stderr
    if target == "run":  # the app's line alone, no traceback
        assert len(said) == 1 and "Traceback" not in result.stdout + result.stderr
    else:  # gunicorn logs the worker's traceback, then stops instead of starting another
        assert "Reason: Worker failed to boot." in result.stderr
    assert stored_users(url) == before
