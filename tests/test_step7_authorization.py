"""Step 7: authorization. Who may do what is decided by named rules (permissions.py), one
declared on every route: admins list users, a user deletes their own account (an admin any),
and a route under /api/ that declares no rule answers 403 to everyone.

401 (who are you?) comes before 403 (you may not), which comes before the route looks at
what it was sent (400) or for the object it names (404). The same rules against the
development server and gunicorn: test_reliability_authorization.py.
"""

import contextlib

import pytest
from flask import Blueprint
from flask_httpauth import HTTPAuth
from sqlalchemy import create_engine, event, inspect, text

from tests.conftest import fresh_database_url
from tests.hashing import cheap_context
from tests.helpers import (
    PASSPHRASE,
    Step,
    assert_problem,
    basic_auth,
    concurrently,
    engines_disposed,
    sqlite_lock,
    steps_from,
    stored_users,
)

pytestmark = pytest.mark.parametrize("step", steps_from(7), indirect=True)

WRONG = "not-the-right-passphrase"


def register(client, username):
    return client.post("/api/users", json={"username": username, "password": PASSPHRASE})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def issue(client, username):
    return client.post("/api/tokens", headers=basic_auth(username, PASSPHRASE)).get_json()[
        "access_token"
    ]


def admin_command(app, *arguments):
    """`flask admin ...` as the README runs it, in the app's own database."""
    return app.test_cli_runner().invoke(args=["admin", *arguments])


@pytest.fixture
def people(client, app, step):
    """alice (id 1) and bob (id 2), plain users, and carol (id 3), an admin: their tokens.
    Carol's role is stored through the model, as in `make shell`."""
    for name in ("alice", "bob", "carol"):
        assert register(client, name).status_code == 201
    with app.app_context():
        step.db.session.get(step.User, 3).is_admin = True
        step.db.session.commit()
    return {name: issue(client, name) for name in ("alice", "bob", "carol")}


def test_an_admin_lists_users_by_id_a_page_at_a_time(client, people):
    carol = bearer(people["carol"])
    everyone = client.get("/api/users", headers=carol).get_json()
    assert everyone == {
        "users": [
            {"id": 1, "username": "alice", "is_admin": False},
            {"id": 2, "username": "bob", "is_admin": False},
            {"id": 3, "username": "carol", "is_admin": True},
        ],
        "page": 1,
        "per_page": 20,
        "total": 3,
    }
    second = client.get("/api/users?page=2&per_page=2", headers=carol).get_json()
    assert (second["users"], second["page"], second["per_page"]) == (everyone["users"][2:], 2, 2)
    for query in ("page=3&per_page=2", "page=2147483647&per_page=100"):
        past = client.get(f"/api/users?{query}", headers=carol).get_json()
        assert (past["users"], past["total"]) == ([], 3)


# Every caller that the answers below name: alice is the owner of account 1.
CALLERS = {
    "no credentials": lambda tokens: {},
    "a wrong password": lambda tokens: basic_auth("alice", WRONG),
    "an unknown token": lambda tokens: bearer("fra_" + "x" * 43),
    "another user's token": lambda tokens: bearer(tokens["bob"]),
    "the owner's token": lambda tokens: bearer(tokens["alice"]),
    "the owner's password": lambda tokens: basic_auth("alice", PASSPHRASE),
    "an admin's token": lambda tokens: bearer(tokens["carol"]),
    "an admin's password": lambda tokens: basic_auth("carol", PASSPHRASE),
}
# What each route answers each caller, in the order of CALLERS.
ANSWERS = {
    "GET /api/users": [401, 401, 401, 403, 403, 403, 200, 200],
    "DELETE /api/users/1": [401, 401, 401, 403, 204, 204, 204, 204],
    "GET /api/users/1": [200, 200, 200, 200, 200, 200, 200, 200],
    "GET /api/resource": [401, 401, 401, 200, 200, 200, 200, 200],
    "POST /api/tokens": [401, 401, 401, 401, 401, 200, 401, 200],
    "DELETE /api/tokens": [401, 401, 401, 204, 204, 401, 204, 401],
}
DETAILS = {
    "GET /api/users": "Only an admin may list users.",
    "DELETE /api/users/1": "You may delete only your own account.",
}


def assert_answer(response, status: int, label: str, caller: str = "") -> None:
    """The answer of the table: a test client's response or a live server's."""
    assert response.status_code == status, f"{label} with {caller}: {response.text}"
    if status == 403:  # says what is needed, and asks for no other credentials
        assert assert_problem(response, 403)["detail"] == DETAILS[label]
        assert "WWW-Authenticate" not in response.headers
    if status == 401:
        assert_problem(response, 401)
        assert "WWW-Authenticate" in response.headers


def call(client, label, headers):
    method, path = label.split(" ")
    return client.open(path, method=method, headers=headers)


@pytest.mark.parametrize("label", [label for label in ANSWERS if "DELETE" not in label])
def test_each_caller_gets_its_answer(client, people, label):
    for (caller, headers), status in zip(CALLERS.items(), ANSWERS[label], strict=True):
        assert_answer(call(client, label, headers(people)), status, label, caller)


@pytest.mark.parametrize("label", [label for label in ANSWERS if "DELETE" in label])
@pytest.mark.parametrize("caller", list(CALLERS))
def test_each_caller_gets_its_answer_to_a_delete(client, people, label, caller):
    status = ANSWERS[label][list(CALLERS).index(caller)]
    assert_answer(call(client, label, CALLERS[caller](people)), status, label, caller)
    alice_exists = client.get("/api/users/1").status_code == 200
    assert alice_exists == (label != "DELETE /api/users/1" or status != 204)


# Roles.


def test_is_admin_is_a_column_that_is_false_unless_granted(app, client, step):
    assert register(client, "alice").status_code == 201
    with app.app_context():
        columns = {c["name"]: c for c in inspect(step.db.engine).get_columns("users")}
        step.db.session.execute(
            text("INSERT INTO users (username, password_hash) VALUES ('b', 'h')")
        )
        step.db.session.commit()
        roles = step.db.session.execute(text("SELECT is_admin FROM users ORDER BY id")).all()
    assert set(columns) == {"id", "username", "password_hash", "is_admin"}
    assert not columns["is_admin"]["nullable"]
    assert [bool(role) for (role,) in roles] == [False, False]  # the database's default too


BODIES_WITH_OTHER_MEMBERS = [
    ({"username": "alice", "password": PASSPHRASE, "is_admin": True}, ["'is_admin'"]),
    ({"is_admin": True}, ["'is_admin'"]),  # before the other rules: no "username is required"
    ({"username": "alice", "password": "short", "role": "admin"}, ["'role'"]),
    (
        {"id": 1, "username": "alice", "is_admin": 1, "password": PASSPHRASE},
        ["'id'", "'is_admin'"],
    ),
]


@pytest.mark.parametrize("body, named", BODIES_WITH_OTHER_MEMBERS)
def test_a_registration_naming_any_other_member_is_400_naming_each(client, spy, body, named):
    problem = assert_problem(client.post("/api/users", json=body), 400)
    assert all(name in problem["detail"] for name in named), problem["detail"]
    assert "required" not in problem["detail"] and "characters" not in problem["detail"]
    assert spy.hashed == []
    assert client.get("/api/users/1").status_code == 404


def test_a_user_shows_only_id_and_username_even_to_an_admin(client, people):
    for headers in ({}, bearer(people["carol"])):
        assert client.get("/api/users/3", headers=headers).get_json() == {
            "id": 3,
            "username": "carol",
        }


def test_the_admin_command_prepares_the_name_and_refuses_an_unknown_one(app, client, people):
    admins = bearer(people["carol"])
    granted = admin_command(app, "grant", "ａｌｉｃｅ")  # fullwidth: alice, as at login
    assert (granted.exit_code, granted.output) == (0, "alice is now an admin.\n")
    assert client.get("/api/users", headers=bearer(people["alice"])).status_code == 200
    for name in ("nobody", "alice:x", ""):
        refused = admin_command(app, "grant", name)
        assert refused.exit_code == 1
        assert len(refused.output.strip().splitlines()) == 1, refused.output
    listed = client.get("/api/users", headers=admins).get_json()["users"]
    assert [user["is_admin"] for user in listed] == [True, False, True]
    assert admin_command(app, "revoke", "alice").output == "alice is no longer an admin.\n"


def test_the_admin_command_says_when_the_role_was_already_so(app, client, people):
    for command, said in (
        ("grant", "carol is already an admin.\n"),
        ("revoke", "bob is not an admin.\n"),
    ):
        name = said.split()[0]
        again = admin_command(app, command, name)
        assert (again.exit_code, again.output) == (0, said)
    listed = client.get("/api/users", headers=bearer(people["carol"])).get_json()["users"]
    assert [user["is_admin"] for user in listed] == [False, False, True]


def test_a_role_changed_applies_to_the_next_request_of_a_token_in_use(app, client, people):
    carol, alice = bearer(people["carol"]), bearer(people["alice"])
    assert client.get("/api/users", headers=carol).status_code == 200
    assert admin_command(app, "revoke", "carol").exit_code == 0
    assert_problem(client.get("/api/users", headers=carol), 403)
    assert admin_command(app, "grant", "alice").exit_code == 0
    assert client.get("/api/users", headers=alice).status_code == 200


@contextlib.contextmanager
def statements(app, step):
    """The SQL statements that the app sends while the block runs."""
    sent = []

    def record(connection, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    with app.app_context():
        engine = step.db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_rule_reads_the_user_authentication_loaded_and_nothing_else(app, client, step, people):
    alice = bearer(people["alice"])
    with statements(app, step) as sent:
        assert client.delete("/api/users/2", headers=alice).status_code == 403
        assert client.get("/api/users?per_page=0", headers=alice).status_code == 403
    assert len(sent) == 2, sent  # one token lookup each


# Listing users: admins only, a page at a time.


BAD_NUMBERS = [
    "",
    "0",
    "+1",
    "-1",
    "1_0",
    " 1",
    "1.0",
    "0x1",
    "١",
    "1e2",
    "2147483648",
    "9" * 5000,
]
BAD_QUERIES = [
    *[[(name, value)] for name in ("page", "per_page") for value in BAD_NUMBERS],
    [("per_page", "101")],
    [("page", "1"), ("page", "1")],  # given twice: parsers differ on which one counts
    [("per_page", "5"), ("per_page", "5")],
]


@pytest.mark.parametrize("query", BAD_QUERIES, ids=[repr(q)[:40] for q in BAD_QUERIES])
def test_a_page_or_size_out_of_range_is_400_naming_it_before_any_query(
    app, client, step, people, query
):
    carol = bearer(people["carol"])
    with statements(app, step) as sent:
        response = client.get("/api/users", query_string=query, headers=carol)
    problem = assert_problem(response, 400)
    assert f"'{query[0][0]}'" in problem["detail"]
    assert len(sent) == 1  # the token's lookup, and no query of the users


def test_a_plain_user_gets_403_before_the_query_is_checked(client, people):
    assert_problem(client.get("/api/users?per_page=0", headers=bearer(people["alice"])), 403)
    assert_problem(client.get("/api/users?per_page=0"), 401)


# Deleting an account.


def test_a_plain_user_gets_403_for_any_other_id_existing_or_not(client, people):
    alice, carol = bearer(people["alice"]), bearer(people["carol"])
    for user_id in (2, 3, 4, 0, 2147483647, 2147483648, "9" * 5000):
        response = client.delete(f"/api/users/{user_id}", headers=alice)
        assert_answer(response, 403, "DELETE /api/users/1")
    # An admin learns whether an id exists, an id that no column holds included.
    for user_id in (4, 0, 2147483648, "9" * 5000):
        assert_problem(client.delete(f"/api/users/{user_id}", headers=carol), 404)
    assert_problem(client.delete("/api/users/2147483648"), 401)


def test_a_deleted_account_goes_with_its_tokens_its_id_is_never_given_again(
    app, client, step, people
):
    second = issue(client, "alice")
    assert client.delete("/api/users/1", headers=bearer(people["alice"])).status_code == 204
    for headers in (bearer(people["alice"]), bearer(second), basic_auth("alice", PASSPHRASE)):
        assert_problem(client.get("/api/resource", headers=headers), 401)
    with app.app_context():
        owners = step.db.session.execute(text("SELECT DISTINCT user_id FROM tokens")).scalars()
        assert sorted(owners) == [2, 3]  # bob's and carol's stay
    again = register(client, "alice")  # the name is free again, under a new id
    assert (again.status_code, again.get_json()) == (201, {"id": 4, "username": "alice"})
    assert client.get("/api/users/1").status_code == 404


def test_two_deletes_of_one_account_at_once_give_one_204(app, people):
    alice = bearer(people["alice"])
    responses = concurrently(
        lambda _: app.test_client().delete("/api/users/1", headers=alice), [1, 2]
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses in ([204, 401], [204, 404]), statuses


def delete_alice_after_authentication(monkeypatch, app, headers) -> list:
    """Hold the next request that authenticates its caller there, before its route runs,
    while DELETE /api/users/1, sent with `headers` in an app context of its own (so on a
    database connection of its own), deletes alice. Return a list that gets its response."""
    deletes = []
    authorize = HTTPAuth.authorize  # Flask-HTTPAuth calls it once the caller is verified

    def delete_then_authorize(self, *arguments):
        if not deletes:  # once: the DELETE authenticates its caller too
            deletes.append(None)
            deletes[0] = app.test_client().delete("/api/users/1", headers=headers)
        return authorize(self, *arguments)

    monkeypatch.setattr(HTTPAuth, "authorize", delete_then_authorize)
    return deletes


# alice's requests, each one interrupted after authentication by the delete of her account:
# each answer is one she could get just before or just after the delete, never a 500.
DURING_A_DELETE = [
    ("POST /api/tokens", "the owner's password", {401}),  # no token for an account gone
    ("DELETE /api/tokens", "the owner's token", {204, 401}),
    ("DELETE /api/users/1", "the owner's token", {404, 401}),
    ("DELETE /api/users/1", "the owner's password", {404, 401}),
    ("GET /api/resource", "the owner's token", {200, 401}),
    ("GET /api/resource", "the owner's password", {200, 401}),
]


@pytest.mark.parametrize("deleter", ["the owner's token", "an admin's token"])
@pytest.mark.parametrize(
    "label, caller, statuses",
    DURING_A_DELETE,
    ids=[" with ".join(case[:2]) for case in DURING_A_DELETE],
)
def test_an_account_deleted_during_a_request_of_its_own_is_never_a_500(
    app, client, step, people, monkeypatch, label, caller, statuses, deleter
):
    deletes = delete_alice_after_authentication(monkeypatch, app, CALLERS[deleter](people))
    response = call(client, label, CALLERS[caller](people))
    assert [delete.status_code for delete in deletes] == [204]  # it came in between
    assert response.status_code in statuses, f"{label} with {caller}: {response.text}"
    assert_answer(response, response.status_code, label, caller)  # a 401 has its challenge
    with app.app_context():
        owners = step.db.session.execute(text("SELECT user_id FROM tokens")).scalars()
        assert 1 not in set(owners)  # no token outlives its account


def test_a_locked_database_is_503_and_deletes_nothing(app, client, people, short_busy_timeout):
    with sqlite_lock(app.config["SQLALCHEMY_DATABASE_URI"]):
        response = client.delete("/api/users/1", headers=bearer(people["alice"]))
    assert_problem(response, 503)
    assert int(response.headers["Retry-After"]) > 0
    assert client.get("/api/users/1").status_code == 200


# Deny by default, and what needs no credentials.


@pytest.mark.own_app
def test_a_route_under_api_that_declares_no_rule_is_403_to_everyone(app, client, step):
    extra = Blueprint("extra", __name__)
    extra.add_url_rule("/api/also-undeclared", "also", lambda: "open", methods=["GET", "POST"])
    app.add_url_rule("/api/undeclared", "undeclared", lambda: {"data": "open"})
    app.add_url_rule("/outside", "outside", lambda: "not the API's")
    app.register_blueprint(extra)
    assert register(client, "carol").status_code == 201
    assert admin_command(app, "grant", "carol").exit_code == 0
    for path in ("/api/undeclared", "/api/also-undeclared"):
        for headers in ({}, basic_auth("carol", PASSPHRASE), bearer(issue(client, "carol"))):
            for method in ("GET", "OPTIONS"):
                assert_problem(client.open(path, method=method, headers=headers), 403)
    assert client.get("/outside").status_code == 200


def test_options_and_head_need_no_credentials(client, people):
    for path, methods in (("/api/users", {"GET", "POST"}), ("/api/users/1", {"GET", "DELETE"})):
        response = client.options(path)
        assert response.status_code == 200
        assert methods <= {m.strip() for m in response.headers["Allow"].split(",")}
    assert client.head("/api/users/1").status_code == 200
    assert client.head("/api/users").status_code == 401


# A database that an earlier step made.


def tables_and_columns(url: str) -> dict:
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        return {
            t: [c["name"] for c in inspector.get_columns(t)] for t in inspector.get_table_names()
        }
    finally:
        engine.dispose()


@pytest.fixture
def step6(monkeypatch):
    """Step 6's package, hashing cheaply like the step under test."""
    import step6_throttling

    step6 = Step(step6_throttling)
    step6.replace(monkeypatch, "pwd_context", cheap_context())
    return step6


def test_a_database_of_step_6_stops_the_start_and_stays_as_it_was(step, step6, tmp_path):
    url = fresh_database_url(tmp_path)
    older = step6.create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False})
    assert register(older.test_client(), "alice").status_code == 201
    before = tables_and_columns(url), stored_users(url)
    with engines_disposed(), pytest.raises(step.EarlierSchema) as raised:
        step.create_app({"SQLALCHEMY_DATABASE_URI": url})
    message = raised.value.format_message()
    assert "\n" not in message and "is_admin" in message and "DATABASE_URL" in message
    assert (tables_and_columns(url), stored_users(url)) == before
    with older.app_context():
        step6.db.engine.dispose()


def test_step_6_can_still_register_users_in_a_database_of_step_7(app, client, step6):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    older = step6.create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False})
    assert register(older.test_client(), "alice").status_code == 201
    assert register(client, "bob").status_code == 201  # step 7 goes on with the same database
    assert admin_command(app, "grant", "bob").exit_code == 0
    engine = create_engine(url)
    with engine.connect() as connection:
        roles = connection.execute(text("SELECT is_admin FROM users ORDER BY id")).scalars()
        assert [bool(role) for role in roles] == [False, True]
    engine.dispose()
    with older.app_context():
        step6.db.engine.dispose()


# Step 6's limits hold on the new routes (they are on in the tests below).


@pytest.mark.limits
def test_a_403_is_no_failed_login_but_a_wrong_password_on_a_new_route_is(client, people):
    for _ in range(12):
        assert client.get("/api/users", headers=basic_auth("alice", PASSPHRASE)).status_code == 403
    for _ in range(10):
        response = client.delete("/api/users/2", headers=basic_auth("bob", WRONG))
        assert response.status_code == 401
    assert_problem(client.get("/api/users", headers=basic_auth("bob", PASSPHRASE)), 429)


@pytest.mark.limits
def test_a_deleted_accounts_failed_logins_stay_with_its_name(client, people):
    for _ in range(10):
        assert client.get("/api/resource", headers=basic_auth("alice", WRONG)).status_code == 401
    assert client.delete("/api/users/1", headers=bearer(people["alice"])).status_code == 204
    assert register(client, "alice").status_code == 201
    response = client.get("/api/resource", headers=basic_auth("alice", PASSPHRASE))
    assert_problem(response, 429)
