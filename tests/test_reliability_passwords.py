"""Step 8 on real servers: the development server and gunicorn, each in one session that
goes through the answers of PUT /api/users/<id>/password, the rules of a new password, two
changes at once, an old hash upgraded by one login, and the limits on wrong current
passwords. The servers hash at the real argon2id cost; `make test-postgres` runs the same
on PostgreSQL. The rules one by one: test_step8_passwords.py (in-process).
"""

import pytest
import requests
from passlib.context import CryptContext
from sqlalchemy import create_engine, text

from tests.helpers import (
    PASSPHRASE,
    assert_problem,
    basic_auth,
    concurrently,
    live_steps,
    register_live,
    stored_users,
)

pytestmark = [pytest.mark.live, *live_steps(8)[0].marks]

NEW = "wrong-horse-battery-staple"
WRONG = "not-the-right-passphrase"
SERVERS = {"development-server": ("run", {}), "gunicorn": ("serve", {"WORKERS": "2"})}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Client:
    """alice's and bob's calls to one server."""

    def __init__(self, server):
        self.url = server.url

    def token(self, username="alice", password=PASSPHRASE) -> str:
        response = requests.post(
            f"{self.url}/api/tokens", headers=basic_auth(username, password), timeout=60
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def change(self, headers, current=PASSPHRASE, new=NEW, user_id=1, body=None):
        body = {"current_password": current, "new_password": new} if body is None else body
        url = f"{self.url}/api/users/{user_id}/password"
        return requests.put(url, headers=headers, json=body, timeout=60)

    def resource(self, headers) -> int:
        return requests.get(f"{self.url}/api/resource", headers=headers, timeout=60).status_code


def set_hash(database_url: str, username: str, password_hash: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE users SET password_hash = :hash WHERE username = :name"),
            {"hash": password_hash, "name": username},
        )
    engine.dispose()


@pytest.mark.parametrize("target, make_vars", SERVERS.values(), ids=SERVERS.keys())
def test_a_session_of_password_changes(live_server, target, make_vars):
    env = {"FLASK_RATELIMIT_ENABLED": "true"} if target == "run" else {}
    # At the real cost: the stored hashes show argon2id's own parameters.
    server = live_server(8, target=target, make_vars=make_vars, env=env, real_cost=True)
    client = Client(server)

    # Common passwords are refused at registration; the tutorial's examples pass.
    for password in ("password123456789", "correcthorsebatterystaple", "alice-in-wonderland"):
        assert_problem(register_live(server, "alice", password), 400)
    assert register_live(server, "alice").status_code == 201
    assert register_live(server, "bob", NEW).status_code == 201
    assert register_live(server, "carol").status_code == 201
    first, second = client.token(), client.token()

    # 401, 403 (another id, before any lookup), 400 (the body, the rules), 403 (wrong).
    assert_problem(client.change({}), 401)
    assert_problem(client.change(bearer(first), user_id=2), 403)
    assert_problem(client.change(bearer(first), user_id=99), 403)
    assert_problem(client.change(bearer(first), body={"new_password": NEW}), 400)
    assert_problem(client.change(bearer(first), new="password123456789"), 400)
    assert_problem(client.change(bearer(first), new="alice-correct-horse"), 400)
    problem = assert_problem(client.change(bearer(first), current=WRONG), 403)
    assert problem["detail"] == "The current password is wrong."

    # 204: every token of alice ends, the one that asked and the other in use.
    assert client.resource(bearer(second)) == 200
    response = client.change(bearer(first))
    assert response.status_code == 204 and response.content == b""
    assert client.resource(bearer(second)) == 401
    assert client.resource(bearer(first)) == 401
    assert client.resource(basic_auth("alice", PASSPHRASE)) == 401
    assert client.resource(basic_auth("alice", NEW)) == 200
    assert stored_users(server.database_url)["alice"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")

    # Two changes at once: exactly one new password works, and no earlier token survives.
    tokens = [client.token("alice", NEW) for _ in range(3)]
    news = ["first-new-horse-battery", "second-new-horse-battery"]
    responses = concurrently(
        lambda pair: client.change(bearer(pair[0]), current=NEW, new=pair[1]),
        list(zip(tokens, news, strict=False)),
    )
    assert sorted(r.status_code for r in responses) == [204, 403]
    works = [new for new in news if client.resource(basic_auth("alice", new)) == 200]
    assert len(works) == 1
    assert [client.resource(bearer(token)) for token in tokens] == [401, 401, 401]

    # A hash that step 7 made (sha512_crypt) becomes argon2id at bob's next login.
    old = CryptContext(schemes=["sha512_crypt"], sha512_crypt__default_rounds=1000).hash(NEW)
    set_hash(server.database_url, "bob", old)
    assert client.resource(basic_auth("bob", NEW)) == 200
    upgraded = stored_users(server.database_url)["bob"]
    assert upgraded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert client.resource(basic_auth("bob", NEW)) == 200
    assert stored_users(server.database_url)["bob"] == upgraded

    if target != "run":
        return
    # Eleven wrong current passwords: the eleventh is a 429, and so is HTTP Basic.
    token = client.token("carol")
    wrong = [client.change(bearer(token), current=WRONG, user_id=3) for _ in range(11)]
    assert [response.status_code for response in wrong] == [403] * 10 + [429]
    assert int(wrong[-1].headers["Retry-After"]) >= 1
    assert_problem(client.change(bearer(token), user_id=3), 429)
    assert client.resource(basic_auth("carol", PASSPHRASE)) == 429
    assert client.resource(bearer(token)) == 200  # a token keeps working
