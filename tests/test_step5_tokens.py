"""Step 5: bearer tokens. POST /api/tokens issues one for a password, GET /api/resource
takes a token or a password, DELETE /api/tokens revokes the token it is sent with.

These tests run against step 5.
"""

import hashlib
import logging
from datetime import datetime, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import DateTime, String, inspect
from sqlalchemy.exc import IntegrityError

from tests.helpers import (
    LINE_BREAKS,
    PASSPHRASE,
    assert_count,
    assert_problem,
    basic_auth,
    delete_user,
    steps_from,
    stops_the_start,
)

pytestmark = pytest.mark.parametrize("step", steps_from(5), indirect=True)

# The code whose rules a table of cases checks: a later step that carries it byte for byte
# runs only the table's first case (see `carried` in tests/conftest.py).
READS_HEADERS = pytest.mark.carried("auth.py", "headers.py")

REALM = "Flask REST auth tutorial"
BOTH_CHALLENGES = f'Bearer realm="{REALM}", Basic realm="{REALM}"'
HOUR = timedelta(seconds=3600)  # the lifetime of a token that settings.py sets


@pytest.fixture
def alice(client):
    response = client.post("/api/users", json={"username": "alice", "password": PASSPHRASE})
    assert response.status_code == 201
    return response.get_json()


def issue(client, username="alice", password=PASSPHRASE):
    response = client.post("/api/tokens", headers=basic_auth(username, password))
    assert response.status_code == 200
    return response.get_json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of RFC 6750 §2.1, built by hand."""
    return {"Authorization": f"Bearer {token}"}


def challenge(response) -> str:
    """The one WWW-Authenticate field of a 401 (RFC 9110 §11.6.1: challenges in one list)."""
    (value,) = response.headers.getlist("WWW-Authenticate")
    return value


def assert_invalid_token(response):
    body = assert_problem(response, 401)
    value = challenge(response)
    assert value.startswith(f'Bearer realm="{REALM}", error="invalid_token", error_description="')
    return body, value


# The tokens are judged on what the table "tokens" holds, not on the names of its columns:
# a column is found by what it holds (a digest, a time) or by its foreign key (the user).


def tokens_table(step):
    return step.db.metadata.tables["tokens"]


def stored_tokens(app, step) -> list[dict]:
    """Every row of the table "tokens": a dict of its columns' values."""
    with app.app_context():
        rows = step.db.session.execute(step.db.select(tokens_table(step))).mappings()
        return [dict(row) for row in rows]


def digest(token: str) -> str:
    """What the table holds of a token: its SHA-256 digest, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def user_column(step) -> str:
    """The column of a token's user: the one whose foreign key refers to users."""
    (foreign_key,) = tokens_table(step).foreign_keys
    return foreign_key.parent.name


def column_holding(row: dict, value) -> str:
    names = [name for name, held in row.items() if held == value]
    assert names, f"a column of the token's row that holds {value!r}; the row: {row!r}"
    return names[0]


def frozen_clock(step, monkeypatch):
    """Stop the app's one clock (utc_now) at the time it is now; return that time."""
    now = step.utc_now()
    step.replace(monkeypatch, "utc_now", lambda: now)
    return now


# Issuing: POST /api/tokens, for a username and password only.


def test_a_token_response_has_the_fields_and_headers_of_oauth(client, alice, step):
    response = client.post("/api/tokens", headers=basic_auth("alice", PASSPHRASE))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body == {
        "access_token": body["access_token"],
        "token_type": "Bearer",
        "expires_in": 3600,
    }
    # RFC 6749 §5.1: a response that holds a token must not be stored by any cache.
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


def test_a_token_is_a_prefix_and_256_random_bits(client, alice):
    tokens = {issue(client) for _ in range(3)}
    assert_count("different tokens", len(tokens), 3)  # a new one every time
    for token in tokens:
        prefix, _, secret = token.partition("_")
        assert prefix == "fra"  # recognizable by a secret scanner
        assert len(secret) == 43  # secrets.token_urlsafe(32): 32 bytes in URL-safe base64
        assert set(secret) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )


def test_token_lifetime_is_configurable_in_seconds(app, client, alice, step, monkeypatch):
    now = frozen_clock(step, monkeypatch)
    app.config["TOKEN_LIFETIME"] = 60  # read when a token is issued
    response = client.post("/api/tokens", headers=basic_auth("alice", PASSPHRASE))
    assert response.get_json()["expires_in"] == 60
    (row,) = stored_tokens(app, step)
    column_holding(row, now + timedelta(seconds=60))  # when it expires


def test_token_lifetime_can_be_set_when_the_server_starts(
    step, monkeypatch, tmp_path, cheap_hashing
):
    monkeypatch.setenv("FLASK_TOKEN_LIFETIME", "2")  # FLASK_TOKEN_LIFETIME=2 make run
    app = step.create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.sqlite'}"})
    client = app.test_client()
    client.post("/api/users", json={"username": "alice", "password": PASSPHRASE})
    response = client.post("/api/tokens", headers=basic_auth("alice", PASSPHRASE))
    assert response.get_json()["expires_in"] == 2
    with app.app_context():
        step.db.engine.dispose()


@pytest.mark.unit_of("settings.py")
@pytest.mark.parametrize("value", ["soon", "0", "-60", "2.5", "true", '"60"', "[60]"])
def test_a_token_lifetime_that_is_no_whole_number_above_0_stops_the_start(
    step, monkeypatch, value
):
    monkeypatch.setenv("FLASK_TOKEN_LIFETIME", value)
    with stops_the_start("FLASK_TOKEN_LIFETIME", "must be a whole number above 0"):
        step.create_app()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic_auth("alice", "wrong-" + PASSPHRASE),
        basic_auth("nobody", PASSPHRASE),
        {"Authorization": "Basic !!junk!!"},
    ],
    ids=["no-credentials", "wrong-password", "unknown-user", "malformed"],
)
def test_issuing_without_a_valid_password_is_401_with_the_basic_challenge(
    client, alice, app, step, headers
):
    response = client.post("/api/tokens", headers=headers)
    assert_problem(response, 401)
    assert challenge(response) == f'Basic realm="{REALM}"'
    assert stored_tokens(app, step) == []


def test_a_token_never_gets_a_new_token(client, alice, app, step):
    token = issue(client)
    for headers in (bearer(token), basic_auth("alice", token)):
        response = client.post("/api/tokens", headers=headers)
        assert_problem(response, 401)
        assert challenge(response) == f'Basic realm="{REALM}"'
    assert_count("tokens stored", len(stored_tokens(app, step)), 1)


def test_issuing_costs_one_password_verification(client, alice, spy):
    issue(client)
    assert_count("password verifications", len(spy.verified), 1)


# Using: GET /api/resource with a token, or with a password as in step 4.


def test_the_token_gets_the_resource(client, alice):
    response = client.get("/api/resource", headers=bearer(issue(client)))
    assert response.status_code == 200
    assert response.get_json() == {"data": "Hello, alice!"}


def test_each_token_is_its_own_users(client, alice):
    assert (
        client.post("/api/users", json={"username": "bob", "password": PASSPHRASE}).status_code
        == 201
    )
    alices, bobs = issue(client), issue(client, "bob")
    assert client.get("/api/resource", headers=bearer(bobs)).get_json() == {"data": "Hello, bob!"}
    assert client.get("/api/resource", headers=bearer(alices)).get_json() == {
        "data": "Hello, alice!"
    }


def test_a_token_request_verifies_no_password(client, alice, spy):
    token = issue(client)
    spy.verified.clear()
    assert client.get("/api/resource", headers=bearer(token)).status_code == 200
    assert_count("password verifications", len(spy.verified), 0)


@READS_HEADERS
@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_is_case_insensitive(client, alice, scheme):
    # RFC 9110 §11.1: "It uses a case-insensitive token to identify the scheme."
    token = issue(client)
    response = client.get("/api/resource", headers={"Authorization": f"{scheme} {token}"})
    assert response.status_code == 200


@READS_HEADERS
@pytest.mark.parametrize("scheme", ["Basic", "basic", "BASIC"])
def test_a_password_still_gets_the_resource_in_any_case_of_the_scheme(client, alice, scheme):
    value = basic_auth("alice", PASSPHRASE)["Authorization"].replace("Basic", scheme, 1)
    response = client.get("/api/resource", headers={"Authorization": value})
    assert response.status_code == 200
    assert response.get_json() == {"data": "Hello, alice!"}


def test_no_credentials_is_401_with_both_challenges_and_no_error(client, alice, spy):
    response = client.get("/api/resource")
    assert_problem(response, 401)
    assert challenge(response) == BOTH_CHALLENGES  # RFC 6750 §3.1: no error code here
    # No token and no password: nothing to verify
    assert_count("password verifications", len(spy.verified), 0)


def test_a_wrong_password_is_401_with_both_challenges(client, alice):
    response = client.get("/api/resource", headers=basic_auth("alice", "wrong-" + PASSPHRASE))
    assert_problem(response, 401)
    assert f'Bearer realm="{REALM}"' in challenge(response)
    assert f'Basic realm="{REALM}"' in challenge(response)


def test_an_unknown_token_is_invalid_token(client, alice):
    _, value = assert_invalid_token(client.get("/api/resource", headers=bearer("fra_" + "A" * 43)))
    assert value.endswith(f', Basic realm="{REALM}"')  # the other way in, in the same field


@pytest.mark.carried("headers.py", "auth.py:verify_token")
@pytest.mark.parametrize(
    "make_value",
    [
        lambda token: "Bearer",
        lambda token: "Bearer ",
        lambda token: f"Bearer {token}!!junk!!",
        lambda token: f"Bearer {token[:-1]}",
        lambda token: f"Bearer {token} {token}",
        lambda token: f"Bearer {token}, Bearer {token}",
        lambda token: f"Bearer {token},Bearer fra_{'B' * 43}",
        lambda token: f"Bearer {token}=x",
        lambda token: f"Bearer a=b, token={token}",
        lambda token: f"Bearer é{token}",
        lambda token: f"Bearer\t{token}",
        lambda token: f"Bearer \t{token}",
        lambda token: f"Bearer\t {token}",
        lambda token: f"Bearer {token[:20]} {token[20:]}",
        lambda token: f'Bearer "{token}"',
        lambda token: f"Bearer {token},",
        lambda token: f"Bearer ,{token}",
    ],
    ids=[
        "scheme-only",
        "empty-token",
        "junk-after-the-token",
        "cut-short",
        "a-second-token",
        "two-headers-joined",
        "valid-then-another",
        "equals-sign",
        "parameters",
        "non-ascii",
        "tab-after-the-scheme",
        "space-then-tab",
        "tab-then-space",
        "inner-space",
        "quoted",
        "trailing-comma",
        "leading-comma",
    ],
)
def test_a_malformed_bearer_value_is_401_invalid_token(client, alice, spy, make_value):
    # Each but the first holds a valid token, which a lenient reader would find.
    token = issue(client)
    spy.verified.clear()
    response = client.get("/api/resource", headers={"Authorization": make_value(token)})
    assert_invalid_token(response)
    # And never a password hash spent on it
    assert_count("password verifications", len(spy.verified), 0)


@READS_HEADERS
@pytest.mark.parametrize(
    "before, after", [("", " "), ("", "\t"), (" ", ""), ("\t", " \t")], ids=repr
)
def test_the_whitespace_around_the_value_is_not_part_of_it(client, alice, before, after):
    # RFC 9110 §5.5: gunicorn strips it before the app sees the header, Werkzeug's
    # development server does not: the app reads the value without it on both.
    value = f"{before}Bearer {issue(client)}{after}"
    response = client.get("/api/resource", headers={"Authorization": value})
    assert response.get_json() == {"data": "Hello, alice!"}


@READS_HEADERS
@pytest.mark.parametrize("spaces", [" ", "  ", "    "])
def test_one_or_more_spaces_may_follow_the_scheme(client, alice, spaces):
    # RFC 9110 §11.4: credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
    response = client.get(
        "/api/resource", headers={"Authorization": f"Bearer{spaces}{issue(client)}"}
    )
    assert response.get_json() == {"data": "Hello, alice!"}


def test_a_token_in_the_query_string_or_a_form_is_ignored(client, alice):
    # RFC 6750 §2.2 and §2.3 allow these; this API does not: URLs land in access logs.
    token = issue(client)
    for response in (
        client.get(f"/api/resource?access_token={token}"),
        client.get("/api/resource", data={"access_token": token}),
    ):
        assert_problem(response, 401)
        assert challenge(response) == BOTH_CHALLENGES


def test_an_expired_token_is_invalid_token(client, alice, step, monkeypatch):
    issued_at = step.utc_now()
    step.replace(monkeypatch, "utc_now", lambda: issued_at)
    token = issue(client)
    step.replace(monkeypatch, "utc_now", lambda: issued_at + timedelta(seconds=3599))
    assert client.get("/api/resource", headers=bearer(token)).status_code == 200
    step.replace(monkeypatch, "utc_now", lambda: issued_at + timedelta(seconds=3600))
    assert_invalid_token(client.get("/api/resource", headers=bearer(token)))
    # An expired token can be neither used nor refreshed: the password is the only way back.
    assert_problem(client.post("/api/tokens", headers=bearer(token)), 401)


def test_the_clock_is_utc_and_naive_like_the_columns(step):
    now = step.utc_now()
    assert now.tzinfo is None
    from datetime import UTC, datetime

    assert abs(datetime.now(UTC).replace(tzinfo=None) - now) < timedelta(seconds=5)


# Revoking: DELETE /api/tokens with the token itself.


def test_revoking_is_204_and_the_token_is_then_invalid_everywhere(client, alice):
    token = issue(client)
    response = client.delete("/api/tokens", headers=bearer(token))
    assert response.status_code == 204
    assert response.get_data() == b""
    assert_invalid_token(client.get("/api/resource", headers=bearer(token)))
    assert_invalid_token(client.delete("/api/tokens", headers=bearer(token)))


@pytest.mark.parametrize("value", [" Bearer {}", "\tBearer {} ", "bearer   {}"], ids=repr)
def test_revoking_deletes_the_token_that_authenticated_however_the_header_is_spaced(
    client, alice, app, step, value
):
    # The token to delete is the one that verify_token accepted, read the same way.
    token = issue(client)
    response = client.delete("/api/tokens", headers={"Authorization": value.format(token)})
    assert response.status_code == 204
    assert stored_tokens(app, step) == []
    assert_invalid_token(client.get("/api/resource", headers=bearer(token)))


def test_revoking_one_token_leaves_the_others(client, alice, app, step):
    laptop, phone = issue(client), issue(client)
    assert client.delete("/api/tokens", headers=bearer(laptop)).status_code == 204
    assert client.get("/api/resource", headers=bearer(phone)).status_code == 200
    assert_count("tokens stored", len(stored_tokens(app, step)), 1)


@pytest.mark.parametrize(
    "headers",
    [{}, basic_auth("alice", PASSPHRASE), bearer("fra_" + "A" * 43)],
    ids=["no-credentials", "a-password", "an-unknown-token"],
)
def test_revoking_needs_a_valid_token(client, alice, app, step, headers):
    issue(client)
    response = client.delete("/api/tokens", headers=headers)
    assert_problem(response, 401)
    assert challenge(response).startswith(f'Bearer realm="{REALM}"')
    assert "Basic" not in challenge(response)  # this route takes a token only
    assert_count("tokens stored", len(stored_tokens(app, step)), 1)


# Storage: the digest only, and no expired rows kept.


def test_the_database_holds_the_digest_never_the_token(client, alice, app, step):
    token = issue(client)
    (row,) = stored_tokens(app, step)
    column_holding(row, digest(token))
    assert token not in str(row)
    assert row[user_column(step)] == alice["id"]


@pytest.mark.unit_of("models.py")
def test_the_tokens_table_is_indexed_for_its_lookups(app, client, alice, step, monkeypatch):
    now = frozen_clock(step, monkeypatch)
    token = issue(client)
    (row,) = stored_tokens(app, step)
    digests, expiries = column_holding(row, digest(token)), column_holding(row, now + HOUR)
    with app.app_context():
        inspector = inspect(step.db.engine)
        columns = inspector.get_columns("tokens")
        indexed = [index["column_names"] for index in inspector.get_indexes("tokens")]
        (foreign_key,) = inspector.get_foreign_keys("tokens")
        indexed.append(inspector.get_pk_constraint("tokens")["constrained_columns"])
        # A unique constraint is kept by an index of its own, in every database.
        indexed += [c["column_names"] for c in inspector.get_unique_constraints("tokens")]
    assert not [column["name"] for column in columns if column["nullable"]]  # none is empty
    # Found by digest, the user's tokens deleted with the user, the expired ones deleted.
    for column in (digests, user_column(step), expiries):
        assert [column] in indexed, f"an index on {column!r} alone, not only {indexed}"
    assert foreign_key["referred_table"] == "users"
    assert foreign_key["constrained_columns"] == [user_column(step)]


def test_issuing_a_token_deletes_every_expired_one(client, alice, app, step, monkeypatch):
    assert (
        client.post("/api/users", json={"username": "bob", "password": PASSPHRASE}).status_code
        == 201
    )
    start = step.utc_now()
    step.replace(monkeypatch, "utc_now", lambda: start)
    old_alice, old_bob = issue(client), issue(client, "bob")
    step.replace(monkeypatch, "utc_now", lambda: start + timedelta(seconds=1800))
    recent_bob = issue(client, "bob")
    step.replace(monkeypatch, "utc_now", lambda: start + HOUR)
    new_alice = issue(client)
    rows = stored_tokens(app, step)
    held = {value for row in rows for value in row.values()}
    assert_count("tokens stored", len(rows), 2)
    assert digest(recent_bob) in held and digest(new_alice) in held
    assert digest(old_alice) not in held and digest(old_bob) not in held


def test_no_response_contains_the_password_or_its_hash(client, alice, app, step):
    token = issue(client)
    with app.app_context():
        stored_hash = step.db.session.scalar(step.db.select(step.User.password_hash))
    for response in (
        client.get("/api/resource", headers=bearer(token)),
        client.delete("/api/tokens", headers=bearer(token)),
        client.get("/api/resource", headers=bearer(token)),
    ):
        text_seen = response.get_data(as_text=True) + str(response.headers)
        assert PASSPHRASE not in text_seen
        assert stored_hash not in text_seen
        assert token not in text_seen


def test_wrong_methods_on_tokens_are_405(client):
    response = client.get("/api/tokens")
    assert_problem(response, 405)
    assert {"POST", "DELETE"} <= set(response.headers["Allow"].split(", "))


# A token dies with its user.


@pytest.mark.carried("foreign_keys.py", "models.py")
@pytest.mark.parametrize("how", ["orm", "sql", "another-client"])
def test_a_deleted_users_tokens_never_come_back_for_a_new_user(app, client, alice, step, how):
    alices = issue(client)
    bob = client.post("/api/users", json={"username": "bob", "password": PASSPHRASE}).get_json()
    bobs = [issue(client, "bob"), issue(client, "bob")]
    delete_user(app, step, bob["id"], how)
    mallory = client.post("/api/users", json={"username": "mallory", "password": PASSPHRASE})
    assert mallory.get_json()["id"] == bob["id"] + 1  # never bob's id
    for token in bobs:
        assert_invalid_token(client.get("/api/resource", headers=bearer(token)))
    response = client.get("/api/resource", headers=bearer(alices))
    assert response.get_json() == {"data": "Hello, alice!"}
    left = {row[user_column(step)] for row in stored_tokens(app, step)}
    sqlite_without_foreign_keys = how == "another-client" and app.config[
        "SQLALCHEMY_DATABASE_URI"
    ].startswith("sqlite")
    # The database deletes them with the user, unless a client turned foreign keys off.
    assert left == ({alice["id"], bob["id"]} if sqlite_without_foreign_keys else {alice["id"]})


def a_token_of(step, user_id: int) -> dict:
    """A row for the table "tokens" whose user is `user_id`, whatever its other columns."""
    row = {}
    for column in tokens_table(step).columns:
        if column.foreign_keys:
            row[column.name] = user_id
        elif isinstance(column.type, DateTime):
            row[column.name] = datetime(2026, 1, 1)
        elif isinstance(column.type, String):  # an id of its own is left to the database
            row[column.name] = digest(f"a token of user {user_id}")
    return row


@pytest.mark.unit_of("foreign_keys.py")
def test_foreign_keys_are_enforced_on_every_connection(app, step):
    insert = tokens_table(step).insert()
    with app.app_context():
        with pytest.raises(IntegrityError):
            step.db.session.execute(insert.values(a_token_of(step, 99)))
            step.db.session.commit()
        step.db.session.rollback()
        step.db.engine.dispose()  # a new connection checks them as well
        with pytest.raises(IntegrityError):
            step.db.session.execute(insert.values(a_token_of(step, 98)))
            step.db.session.commit()


# No token in a log line.

TOKEN_SHAPES = {
    "whole": lambda token: token,
    "percent-encoded": lambda token: "".join(f"%{byte:02x}" for byte in token.encode()),
    "prefix-encoded": lambda token: quote(token, safe="").replace("_", "%5F"),
    "twice-encoded": lambda token: quote(quote(token, safe="").replace("f", "%66", 1)),
    "thrice-encoded-prefix": lambda token: "%252566%252572%252561%25255F" + token[4:],
    "a-piece": lambda token: token[:20],
    "upper-case-prefix": lambda token: "FRA_" + token[4:],
}


@pytest.mark.unit_of("logs.py")
@pytest.mark.parametrize("shape", TOKEN_SHAPES.values(), ids=TOKEN_SHAPES.keys())
def test_the_logs_mask_a_token_in_a_message_and_a_traceback(app, step, caplog, shape):
    token = "fra_" + "Tq9-x_" * 7 + "Z"
    written = shape(token)
    try:
        raise ValueError(f"a client sent {written}")
    except ValueError:
        app.logger.exception("GET /api/resource?access_token=%s", written)
    for name in ("werkzeug", "gunicorn.error", "gunicorn.access"):
        logging.getLogger(name).warning('"GET /api/users/%s HTTP/1.1" 404', written)
    assert_count("masked tokens in the log", caplog.text.count("fra_[masked]"), 5)
    assert written not in caplog.text
    assert token[4:24] not in caplog.text


@pytest.mark.parametrize("character", [*LINE_BREAKS, "\x1b"], ids=repr)
def test_a_token_beside_a_line_break_is_masked_and_the_line_kept_whole(app, caplog, character):
    """The token is masked in what the client sent, then the rest escaped: neither undoes
    the other, whichever side of the token the line break stands."""
    token = "fra_" + "Tq9-x_" * 7 + "Z"
    loggers = [
        app.logger,
        logging.getLogger("gunicorn.error"),
        logging.getLogger("gunicorn.access"),
    ]
    if character in ("\u2028", "\u2029"):  # Werkzeug escapes the others itself
        loggers.append(logging.getLogger("werkzeug"))
    for written in (f"{token}{character}forged", f"forged{character}{token}"):
        for logger in loggers:
            logger.warning('"GET /api/resource?access_token=%s HTTP/1.1" 401', written)
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2 * len(loggers)
    for message in messages:
        assert message.splitlines() == [message]
        assert "fra_[masked]" in message and "forged" in message
        assert token[4:24] not in message
