"""Step 8: passwords. A user changes their own password with the current one, which ends
every token of theirs; a new password (at registration too) is refused when it is common or
contains the username; new hashes are argon2id, and an older hash is replaced at the next
login with HTTP Basic.

The answers of PUT /api/users/<id>/password come in this order: 401, 403 (not your account),
400 (the body, then the new password's rules), 429 (step 6's limits), 403 (a wrong current
password), 204. The same against the development server and gunicorn:
test_reliability_passwords.py.
"""

import threading

import pytest
from passlib.context import CryptContext

from tests.hashing import cheap_context
from tests.helpers import (
    PASSPHRASE,
    HashSpy,
    assert_detail_says,
    assert_problem,
    basic_auth,
    concurrently,
    steps_from,
)

pytestmark = pytest.mark.parametrize("step", steps_from(8), indirect=True)

# The code whose rules a table of cases checks: a later step that carries it byte for byte
# runs only the table's first case (see `carried` in tests/conftest.py).
NEW_PASSWORD_RULES = pytest.mark.carried("api.py:create_user", "credentials.py")
READS_A_CHANGE = pytest.mark.carried("passwords.py", "bodies.py", "credentials.py")
CHECKS_THE_CURRENT = pytest.mark.carried("passwords.py", "auth.py", "credentials.py")

NEW = "wrong-horse-battery-staple"  # the tutorial's second example: it passes the rules
WRONG = "not-the-right-passphrase"
# A hash that step 2 to 7 made, at the tests' cheap cost.
OLD_CONTEXT = CryptContext(schemes=["sha512_crypt"], sha512_crypt__default_rounds=1000)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def issue(client, username="alice", password=PASSPHRASE) -> str:
    response = client.post("/api/tokens", headers=basic_auth(username, password))
    assert response.status_code == 200
    return response.get_json()["access_token"]


def change(client, headers, current=PASSPHRASE, new=NEW, user_id=1, body=None):
    body = {"current_password": current, "new_password": new} if body is None else body
    return client.put(f"/api/users/{user_id}/password", headers=headers, json=body)


def stored_hash(app, step, user_id=1) -> str:
    with app.app_context():
        return step.db.session.get(step.User, user_id).password_hash


def set_hash(app, step, password_hash: str, user_id=1) -> None:
    with app.app_context():
        step.db.session.get(step.User, user_id).password_hash = password_hash
        step.db.session.commit()


def token_count(app, step) -> int:
    with app.app_context():
        return step.db.session.scalar(step.db.select(step.db.func.count(step.Token.digest)))


def works(client, username, password) -> bool:
    return client.get("/api/resource", headers=basic_auth(username, password)).status_code == 200


@pytest.fixture
def alice(add_user):
    """alice (id 1) and bob (id 2), with the tutorial's example password."""
    add_user("alice")
    add_user("bob")


# --- The change: what it stores and what it ends -------------------------------------------


def test_a_change_stores_the_new_hash_and_ends_every_token(app, client, step, alice):
    first, second = issue(client), issue(client)
    bobs = issue(client, "bob")
    response = change(client, bearer(first))
    assert response.status_code == 204
    assert response.data == b""
    for token in (first, second):  # the one that sent the change too: log in again
        assert_problem(client.get("/api/resource", headers=bearer(token)), 401)
    assert client.get("/api/resource", headers=bearer(bobs)).status_code == 200
    assert not works(client, "alice", PASSPHRASE)
    assert works(client, "alice", NEW)
    assert stored_hash(app, step).startswith("$argon2id$")
    assert token_count(app, step) == 1  # bob's


# --- The rules of a new password, at registration and at a change ---------------------------

REFUSED = [
    ("password123456789", "common"),
    ("correcthorsebatterystaple", "common"),
    ("iloveyou12345678", "common"),
    ("alice-correct-horse", "username"),
    ("My-ALICE-is-strong-enough", "username"),  # compared after casefold()
    ("\u00e5lice-and-alice-again", "username"),
]
ACCEPTED = [
    PASSPHRASE,
    NEW,
    "CorrectHorseBatteryStaple",  # the list is matched exactly, as the package does
    "bob-correct-horse-battery",  # another user's name is no context of alice's
]


@NEW_PASSWORD_RULES
@pytest.mark.parametrize("password, rule", REFUSED)
def test_registration_refuses_a_common_password_or_one_with_the_username(
    client, spy, password, rule
):
    response = client.post("/api/users", json={"username": "alice", "password": password})
    problem = assert_problem(response, 400)
    assert_detail_says(problem, "'password'")
    assert_detail_says(problem, rule)
    assert spy.hashed == []


@NEW_PASSWORD_RULES
@pytest.mark.parametrize("password", ACCEPTED)
def test_registration_accepts_the_examples_and_passwords_off_the_list(client, password):
    response = client.post("/api/users", json={"username": "alice", "password": password})
    assert response.status_code == 201


def test_the_rules_apply_to_the_passwords_as_rfc_8265_prepares_them(client):
    # The fullwidth name is "alice" once prepared, and a no-break space is a space.
    register = {"username": "\uff41\uff4c\uff49\uff43\uff45", "password": "alice-correct-horse"}
    assert_detail_says(assert_problem(client.post("/api/users", json=register), 400), "username")
    register = {"username": "bob", "password": "once\u00a0upon\u00a0a\u00a0time"}
    assert_detail_says(assert_problem(client.post("/api/users", json=register), 400), "common")


def test_a_name_under_four_characters_is_no_rule(client):
    for name, password in (
        ("bo", "bo-correct-horse-battery"),
        ("bob", "bob-correct-horse-battery"),
    ):
        response = client.post("/api/users", json={"username": name, "password": password})
        assert response.status_code == 201


# --- PUT /api/users/<id>/password: each row of the table ------------------------------------


def test_a_change_with_http_basic_and_to_the_same_password(client, alice):
    issued = issue(client)
    assert change(client, basic_auth("alice", PASSPHRASE), new=PASSPHRASE).status_code == 204
    assert_problem(client.get("/api/resource", headers=bearer(issued)), 401)
    assert works(client, "alice", PASSPHRASE)


@pytest.mark.parametrize(
    "headers",
    [{}, basic_auth("alice", WRONG), bearer("fra_" + "x" * 43), basic_auth("nobody", PASSPHRASE)],
    ids=["none", "wrong-password", "unknown-token", "unknown-user"],
)
def test_without_valid_credentials_it_is_401_with_the_challenges(client, alice, headers):
    response = change(client, headers)
    assert_problem(response, 401)
    assert "WWW-Authenticate" in response.headers


def test_another_users_id_is_403_for_everyone_before_any_lookup_or_hash(
    app, client, step, alice, spy
):
    bobs = issue(client, "bob")
    with app.app_context():
        step.db.session.get(step.User, 2).is_admin = True  # admins included
        step.db.session.commit()
    spy.verified.clear()
    for user_id in (1, 3, 2147483647, 10**12):  # alice's, then nobody's
        problem = assert_problem(change(client, bearer(bobs), user_id=user_id, body=[]), 403)
        assert_detail_says(problem, "your own")
    assert spy.hashed == spy.verified == []
    assert works(client, "alice", PASSPHRASE)


BAD_BODIES = [
    ([], ["JSON object"]),
    ({"new_password": NEW}, ["'current_password'"]),
    ({"current_password": PASSPHRASE}, ["'new_password'"]),
    ({"current_password": 1, "new_password": NEW}, ["'current_password'"]),
    ({"current_password": PASSPHRASE, "new_password": None}, ["'new_password'"]),
    ({"current_password": PASSPHRASE, "new_password": NEW, "password": NEW}, ["'password'"]),
    ({"current_password": PASSPHRASE, "new_password": NEW, "is_admin": True}, ["'is_admin'"]),
    ({"current_password": PASSPHRASE, "new_password": "too-short"}, ["'new_password'", "15"]),
    ({"current_password": PASSPHRASE, "new_password": "x" * 129}, ["'new_password'", "128"]),
    (
        {"current_password": PASSPHRASE, "new_password": "tab\tin-the-password"},
        ["'new_password'", "control"],
    ),
    (
        {"current_password": PASSPHRASE, "new_password": "password123456789"},
        ["'new_password'", "common"],
    ),
    (
        {"current_password": PASSPHRASE, "new_password": "Alice-correct-horse"},
        ["'new_password'", "username"],
    ),
]


@READS_A_CHANGE
@pytest.mark.parametrize("body, words", BAD_BODIES, ids=[" ".join(w) for _, w in BAD_BODIES])
def test_a_bad_body_or_new_password_is_400_naming_it_before_any_hash(
    client, alice, spy, body, words
):
    token = issue(client)
    spy.verified.clear()
    problem = assert_problem(change(client, bearer(token), body=body), 400)
    for word in words:
        assert_detail_says(problem, word)
    assert spy.hashed == spy.verified == []
    assert client.get("/api/resource", headers=bearer(token)).status_code == 200


@CHECKS_THE_CURRENT
@pytest.mark.parametrize("current", [WRONG, "short", "tab\tin-the-password", PASSPHRASE + " "])
def test_a_wrong_current_password_is_403_and_changes_nothing(app, client, step, alice, current):
    token = issue(client)
    before = stored_hash(app, step)
    problem = assert_problem(change(client, bearer(token), current=current), 403)
    assert problem["detail"] == "The current password is wrong."
    assert "WWW-Authenticate" not in change(client, bearer(token), current=current).headers
    assert stored_hash(app, step) == before
    assert client.get("/api/resource", headers=bearer(token)).status_code == 200


@pytest.mark.limits
def test_wrong_current_passwords_count_as_failed_logins_for_the_name(client, alice, spy):
    token = issue(client)
    for _ in range(10):
        assert change(client, bearer(token), current=WRONG).status_code == 403
    spy.verified.clear()
    response = change(client, bearer(token))  # even the right one, now
    assert_problem(response, 429)
    assert int(response.headers["Retry-After"]) >= 1
    assert spy.verified == []  # before any hash
    assert_problem(client.get("/api/resource", headers=basic_auth("alice", PASSPHRASE)), 429)
    # A refused new password is still a 400 with a token: the body comes first.
    body = {"current_password": PASSPHRASE, "new_password": "password123456789"}
    assert_problem(change(client, bearer(token), body=body), 400)
    # With HTTP Basic, the name is limited while authenticating.
    assert_problem(change(client, basic_auth("alice", PASSPHRASE), body=body), 429)


@pytest.mark.limits
def test_wrong_current_passwords_count_for_the_address_too(client, add_user):
    names = [f"user{number}" for number in range(6)]
    tokens = []
    for name in names:
        add_user(name)
        tokens.append(issue(client, name))
    for number in range(50):  # ten per name would stop at the name's limit first
        user = number % 6
        response = change(client, bearer(tokens[user]), current=WRONG, user_id=user + 1)
        assert response.status_code == 403
    assert_problem(change(client, bearer(tokens[0])), 429)


# --- Hashes: argon2id for new ones, older ones replaced at a login --------------------------


@pytest.mark.unit_of("models.py")
def test_the_context_is_argon2id_at_owasps_first_configuration(step):
    # The real context, before any test swaps in the cheap one: no hash computed here.
    assert step.pwd_context.schemes() == ("argon2", "sha512_crypt")
    assert step.pwd_context.default_scheme() == "argon2"
    assert step.pwd_context.handler("sha512_crypt").deprecated
    assert step.pwd_context.to_dict()["argon2__type"] == "ID"
    argon2 = step.pwd_context.handler("argon2")
    assert (argon2.memory_cost, argon2.default_rounds, argon2.parallelism) == (19456, 2, 1)


def test_new_hashes_are_argon2id(app, client, step):
    client.post("/api/users", json={"username": "alice", "password": PASSPHRASE})
    assert stored_hash(app, step).startswith("$argon2id$")
    assert stored_hash(app, step).startswith(cheap_context(step.pwd_context).hash("x")[:27])


@pytest.mark.parametrize(
    "route, method",
    [("/api/resource", "get"), ("/api/tokens", "post"), ("/api/users/1/password", "put")],
)
def test_a_login_replaces_a_sha512_crypt_hash_with_argon2id(
    app, client, step, alice, route, method
):
    set_hash(app, step, OLD_CONTEXT.hash(PASSPHRASE))
    token = issue(client, "bob")
    body = {"current_password": PASSPHRASE, "new_password": PASSPHRASE}
    response = getattr(client, method)(route, headers=basic_auth("alice", PASSPHRASE), json=body)
    assert response.status_code in (200, 204)
    new_hash = stored_hash(app, step)
    assert new_hash.startswith("$argon2id$")
    assert step.pwd_context.verify(PASSPHRASE, new_hash)
    assert client.get("/api/resource", headers=bearer(token)).status_code == 200


def test_an_argon2_hash_of_other_parameters_is_replaced_and_a_current_one_is_kept(
    app, client, step, alice
):
    other = CryptContext(schemes=["argon2"], argon2__memory_cost=16, argon2__parallelism=1)
    set_hash(app, step, other.hash(PASSPHRASE))
    assert works(client, "alice", PASSPHRASE)
    upgraded = stored_hash(app, step)
    assert upgraded.startswith(cheap_context(step.pwd_context).hash("x")[:27])
    assert works(client, "alice", PASSPHRASE)
    assert stored_hash(app, step) == upgraded


def test_a_wrong_password_or_a_token_upgrades_nothing(app, client, step, alice):
    token = issue(client)
    old = OLD_CONTEXT.hash(PASSPHRASE)
    set_hash(app, step, old)
    assert not works(client, "alice", WRONG)
    assert client.get("/api/resource", headers=bearer(token)).status_code == 200
    assert stored_hash(app, step) == old


def test_a_change_hashes_once_and_a_refused_one_not_at_all(app, client, step, alice, spy):
    token = issue(client)
    set_hash(app, step, OLD_CONTEXT.hash(PASSPHRASE))
    spy.hashed.clear()
    assert change(client, bearer(token)).status_code == 204
    assert spy.hashed == [NEW]  # the new password's: no upgrade of the old hash first


def test_an_unknown_name_is_checked_against_an_argon2id_dummy_hash(app, client, step, alice, spy):
    assert_problem(client.get("/api/resource", headers=basic_auth("nobody", PASSPHRASE)), 401)
    (dummy,) = spy.verified
    assert dummy.startswith("$argon2id$") and dummy != stored_hash(app, step)


# --- Races ----------------------------------------------------------------------------------


class Together(HashSpy):
    """A context whose first `count` verifications of `password` wait, up to five seconds,
    until all of them are running, so that requests overlap where a race would hurt."""

    def __init__(self, context, password: str, count: int = 2):
        super().__init__(context)
        self.password = password
        self.together = threading.Barrier(count, action=self.met, timeout=5)

    def verify(self, password, stored_hash):
        if password == self.password:
            self.together.wait()
        return super().verify(password, stored_hash)

    def met(self):
        self.password = None  # once they have met, later verifications run alone


def test_two_logins_of_an_old_hash_at_once_both_pass_and_leave_one_argon2id_hash(
    app, step, alice, monkeypatch
):
    set_hash(app, step, OLD_CONTEXT.hash(PASSPHRASE))
    spy = Together(step.pwd_context, PASSPHRASE)
    step.replace(monkeypatch, "pwd_context", spy)
    responses = concurrently(
        lambda route: app.test_client().post(route, headers=basic_auth("alice", PASSPHRASE)),
        ["/api/tokens", "/api/tokens"],
    )
    assert [response.status_code for response in responses] == [200, 200]
    monkeypatch.undo()
    final = stored_hash(app, step)
    assert final.startswith("$argon2id$") and step.pwd_context.verify(PASSPHRASE, final)
    for response in responses:
        token = response.get_json()["access_token"]
        assert app.test_client().get("/api/resource", headers=bearer(token)).status_code == 200


def test_two_changes_at_once_leave_one_new_password_and_no_token(
    app, client, step, alice, monkeypatch
):
    tokens = [issue(client) for _ in range(3)]
    step.replace(monkeypatch, "pwd_context", Together(step.pwd_context, PASSPHRASE))
    news = ["first-new-horse-battery", "second-new-horse-battery"]
    responses = concurrently(
        lambda pair: change(app.test_client(), bearer(pair[0]), new=pair[1]),
        list(zip(tokens, news, strict=False)),
    )
    monkeypatch.undo()
    assert sorted(response.status_code for response in responses) == [204, 403]
    assert [works(client, "alice", new) for new in news].count(True) == 1
    assert not works(client, "alice", PASSPHRASE)
    assert token_count(app, step) == 0


class Holding(HashSpy):
    """A context whose verification of `password` at a login waits until `release` is set,
    so that another request runs between the check and what the login writes next."""

    def __init__(self, context, password: str):
        super().__init__(context)
        self.password, self.inside, self.release = password, threading.Event(), threading.Event()

    def verify_and_update(self, password, stored_hash):
        answer = super().verify_and_update(password, stored_hash)
        if password == self.password:
            self.inside.set()
            assert self.release.wait(timeout=10)
        return answer


@pytest.mark.parametrize("old_hash", [False, True], ids=["current-hash", "old-hash"])
def test_a_login_that_overlaps_a_change_gets_no_token_and_no_old_password_back(
    app, client, step, alice, monkeypatch, old_hash
):
    token = issue(client, "alice")
    if old_hash:  # which the login upgrades
        set_hash(app, step, OLD_CONTEXT.hash(PASSPHRASE))
    holding = Holding(step.pwd_context, PASSPHRASE)
    step.replace(monkeypatch, "pwd_context", holding)
    login = {}
    thread = threading.Thread(
        target=lambda: login.update(
            response=app.test_client().post("/api/tokens", headers=basic_auth("alice", PASSPHRASE))
        )
    )
    thread.start()
    assert holding.inside.wait(timeout=10)  # the login has verified the old password
    assert change(client, bearer(token)).status_code == 204
    holding.release.set()
    thread.join()
    monkeypatch.undo()
    assert_problem(login["response"], 401)
    assert "WWW-Authenticate" in login["response"].headers
    assert token_count(app, step) == 0
    assert not works(client, "alice", PASSPHRASE)
    assert works(client, "alice", NEW)


def test_a_login_that_upgrades_while_its_account_is_deleted_is_a_401(
    app, client, step, alice, monkeypatch
):
    token = issue(client, "alice")
    set_hash(app, step, OLD_CONTEXT.hash(PASSPHRASE))  # which the login upgrades
    holding = Holding(step.pwd_context, PASSPHRASE)
    step.replace(monkeypatch, "pwd_context", holding)
    login = {}
    thread = threading.Thread(
        target=lambda: login.update(
            response=app.test_client().get(
                "/api/resource", headers=basic_auth("alice", PASSPHRASE)
            )
        )
    )
    thread.start()
    assert holding.inside.wait(timeout=10)  # the login has verified the old hash
    assert client.delete("/api/users/1", headers=bearer(token)).status_code == 204
    holding.release.set()
    thread.join()
    assert_problem(login["response"], 401)
