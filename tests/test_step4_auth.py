"""Step 4: GET /api/resource behind HTTP Basic authentication."""

import base64
import json
import os
import pathlib
import re
import subprocess
import sys
import unicodedata

import pytest

from tests.helpers import (
    PASSPHRASE,
    assert_count,
    assert_default_cost,
    assert_problem,
    basic_auth,
    steps_from,
)

pytestmark = pytest.mark.parametrize("step", steps_from(4), indirect=True)

# The code whose rules a table of cases checks: a later step that carries it byte for byte
# runs only the table's first case (see `carried` in tests/conftest.py).
READS_HEADERS = pytest.mark.carried("auth.py", "headers.py")
PREPARES_LOGINS = pytest.mark.carried("auth.py", "credentials.py", "headers.py")


@pytest.fixture
def alice(client):
    response = client.post("/api/users", json={"username": "alice", "password": PASSPHRASE})
    assert response.status_code == 201
    return response.get_json()


def assert_unauthorized(response):
    body = assert_problem(response, 401)
    # A Basic challenge (RFC 7617 §2); step 5 lists a Bearer one beside it, in the same field.
    (challenges,) = response.headers.getlist("WWW-Authenticate")
    assert re.search(r'(^|, )Basic realm="[^"]+"', challenges), challenges
    return body


def test_right_credentials_get_the_resource(client, alice):
    response = client.get("/api/resource", headers=basic_auth("alice", PASSPHRASE))
    assert response.status_code == 200
    assert response.get_json() == {"data": "Hello, alice!"}


def test_the_header_is_base64_of_username_colon_password(client, alice):
    # What curl -u alice:... and every other client send: RFC 7617.
    token = base64.b64encode(b"alice:correct-horse-battery-staple").decode()
    assert token == "YWxpY2U6Y29ycmVjdC1ob3JzZS1iYXR0ZXJ5LXN0YXBsZQ=="
    response = client.get("/api/resource", headers={"Authorization": f"Basic {token}"})
    assert response.status_code == 200


def test_no_credentials_is_401_with_www_authenticate(client, alice, spy):
    assert_unauthorized(client.get("/api/resource"))
    # Flask-HTTPAuth's empty strings never reach a hash
    assert_count("password verifications", len(spy.verified), 0)


def test_wrong_password_is_401(client, alice):
    assert_unauthorized(
        client.get("/api/resource", headers=basic_auth("alice", "wrong-" + PASSPHRASE))
    )


def test_unknown_user_is_401(client, alice):
    assert_unauthorized(client.get("/api/resource", headers=basic_auth("bob", PASSPHRASE)))


def stored_hash(app, step, username: str) -> str:
    with app.app_context():
        return step.db.session.scalar(
            step.db.select(step.User.password_hash).filter_by(username=username)
        )


def test_unknown_user_costs_one_verification_against_the_dummy_hash(client, alice, app, step, spy):
    for _ in range(2):  # the same hash each time: made once, when first needed
        assert_unauthorized(client.get("/api/resource", headers=basic_auth("bob", PASSPHRASE)))
    (dummy, again) = spy.verified
    assert dummy == again != stored_hash(app, step, "alice")
    # By the context and the scheme that users' hashes use (sha512_crypt, then argon2id).
    assert spy.context.identify(dummy) == spy.context.identify(stored_hash(app, step, "alice"))


def test_wrong_password_costs_one_verification_against_the_users_hash(
    client, alice, app, step, spy
):
    client.get("/api/resource", headers=basic_auth("alice", "wrong-" + PASSPHRASE))
    assert spy.verified == [stored_hash(app, step, "alice")]


# Run in a fresh interpreter: importing the step (and each of its modules) records every
# hash PassLib makes, then an unknown name logs in and the hash it is verified against is
# printed (not verified: the test needs its cost, not its answer). In the tests' process,
# the step hashes with the tests' cheap context, not its own.
FRESH_IMPORT = """
import base64, importlib, json, pkgutil, sys, tempfile
from passlib.context import CryptContext
made, verified = [], []
hash = CryptContext.hash
CryptContext.hash = lambda self, secret, **kw: made.append(secret) or hash(self, secret, **kw)
CryptContext.verify = lambda self, secret, h, **kw: verified.append(h) or False  # a second less
package = importlib.import_module(sys.argv[1])
for module in pkgutil.iter_modules(package.__path__):
    importlib.import_module(f"{package.__name__}.{module.name}")
at_import = list(made)
url = f"sqlite:///{tempfile.mkdtemp()}/fresh.sqlite"
config = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False}
basic = "Basic " + base64.b64encode(b"nobody:correct-horse-battery-staple").decode()
client = package.create_app(config).test_client()
status = client.get("/api/resource", headers={"Authorization": basic}).status_code
print(json.dumps({"at_import": at_import, "status": status, "verified": verified}))
"""


@pytest.mark.real_cost
def test_importing_computes_no_hash_and_the_dummy_hash_has_the_default_cost(step):
    folder = pathlib.Path(step.modules[0].__file__).parent.parent  # the solutions or STEPS_ROOT
    env = {**os.environ, "PYTHONPATH": str(folder)}
    env = {name: value for name, value in env.items() if not name.startswith("FLASK_")}
    command = [sys.executable, "-c", FRESH_IMPORT, step.name]
    result = subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, check=True
    )
    fresh = json.loads(result.stdout.splitlines()[-1])
    assert fresh["at_import"] == []  # a hash costs a second: made when first needed
    assert fresh["status"] == 401
    (dummy,) = fresh["verified"]
    assert_default_cost(step.pwd_context, dummy)  # this process's own, never swapped here


@PREPARES_LOGINS
@pytest.mark.parametrize(
    "username, password",
    [
        ("", ""),
        ("alice", ""),
        ("", PASSPHRASE),
        ("alice", "x" * 129),
        ("alice", "x" * 5000),
        ("alice", PASSPHRASE + "\0"),
        ("alice", "short"),
        ("a" * 33, PASSPHRASE),
        ("alice\u200b", PASSPHRASE),
        ("ﬁsher", PASSPHRASE),
        ("alice smith", PASSPHRASE),
        ("alice\uff1aadmin", PASSPHRASE),
        ("alice", PASSPHRASE + "\t"),
        ("alice", "\u2764\ufe0f " + PASSPHRASE),
        ("alice", "\U0001f469\u200d\U0001f4bb " + PASSPHRASE),
        ("alice", PASSPHRASE + "\u2028"),
        ("alice", "u\u0308" * 14),
    ],
    ids=[
        "empty",
        "no-password",
        "no-user",
        "129",
        "5000",
        "nul",
        "short",
        "long-user",
        "zero-width-space-in-user",
        "ligature-in-user",
        "space-in-user",
        "fullwidth-colon-in-user",
        "tab",
        "variation-selector",
        "zero-width-joiner",
        "line-separator",
        "short-once-prepared",
    ],
)
def test_credentials_registration_refuses_are_401_without_hashing(
    client, alice, spy, username, password
):
    assert_unauthorized(client.get("/api/resource", headers=basic_auth(username, password)))
    assert_count("password verifications", len(spy.verified), 0)


@READS_HEADERS
@pytest.mark.parametrize(
    "header",
    [
        "Basic",
        "Basic ",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:" + PASSPHRASE.encode()).decode(),
        "Basic " + base64.b64encode(b"alice:\xff" + PASSPHRASE.encode()).decode(),
        "Bearer abc.def",
        "Digest username=alice",
        "basic " + base64.b64encode(b"nobody:" + PASSPHRASE.encode()).decode(),
    ],
)
def test_hostile_authorization_headers_are_401(client, alice, header):
    assert_unauthorized(client.get("/api/resource", headers={"Authorization": header}))


ALICE = base64.b64encode(f"alice:{PASSPHRASE}".encode()).decode()
BOB = base64.b64encode(f"bob:{PASSPHRASE}".encode()).decode()

# Each holds alice's valid credentials, which a lenient decoder would find and let in.
LENIENTLY_DECODED = {
    "junk-after-base64": f"Basic {ALICE}!!junk!!",
    "another-header-joined": f"Basic {ALICE}, Basic {BOB}",
    "two-headers-joined-by-the-server": f"Basic {ALICE},Basic {BOB}",
    "the-same-header-twice": f"Basic {ALICE},Basic {ALICE}",
    "space-inside-base64": f"Basic {ALICE[:8]} {ALICE[8:]}",
    "padding-missing": "Basic " + ALICE.rstrip("="),
    "bearer-scheme": f"Bearer {ALICE}",
    "other-scheme": f"Token {ALICE}",
    "tab-after-scheme": f"Basic\t{ALICE}",
    "non-ascii-before-base64": f"Basic é{ALICE}",
    "non-ascii-after-base64": f"Basic {ALICE}ÿ",
}


@READS_HEADERS
@pytest.mark.parametrize("authorization", LENIENTLY_DECODED.values(), ids=LENIENTLY_DECODED.keys())
def test_only_one_well_formed_basic_value_authenticates(client, alice, spy, authorization):
    assert_unauthorized(client.get("/api/resource", headers={"Authorization": authorization}))
    assert_count("password verifications", len(spy.verified), 0)  # nobody was even tried


@READS_HEADERS
@pytest.mark.parametrize("scheme", ["Basic", "basic", "BASIC", "bAsIc"])
def test_the_scheme_is_case_insensitive(client, alice, scheme):
    # RFC 9110 §11.1: "It uses a case-insensitive token to identify the scheme."
    response = client.get("/api/resource", headers={"Authorization": f"{scheme} {ALICE}"})
    assert response.status_code == 200


def test_more_than_one_space_after_the_scheme_is_allowed(client, alice):
    # RFC 9110 §11.4: credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
    response = client.get("/api/resource", headers={"Authorization": f"Basic   {ALICE}"})
    assert response.status_code == 200


def test_credentials_that_are_not_utf8_are_refused(client):
    # RFC 7617 §2.1: this server's charset is UTF-8; no Latin-1 fallback guesses for it.
    password = "pässwörd-ünïcode-1"
    registered = client.post("/api/users", json={"username": "jürgen", "password": password})
    assert registered.status_code == 201
    latin1 = base64.b64encode(f"jürgen:{password}".encode("latin-1")).decode()
    assert_unauthorized(client.get("/api/resource", headers={"Authorization": f"Basic {latin1}"}))


def test_utf8_credentials_work(client):
    password = "pässwörd-ünïcode-1"
    assert (
        client.post("/api/users", json={"username": "jürgen", "password": password}).status_code
        == 201
    )
    response = client.get("/api/resource", headers=basic_auth("jürgen", password))
    assert response.status_code == 200
    assert response.get_json() == {"data": "Hello, jürgen!"}


def register(client, username: str, password: str):
    response = client.post("/api/users", json={"username": username, "password": password})
    assert response.status_code == 201
    return response.get_json()


def test_the_username_is_nfc_normalized_as_at_registration(client):
    password = "pässwörd-ünïcode-1"
    composed = unicodedata.normalize("NFC", "jürgen")
    register(client, composed, password)
    decomposed = unicodedata.normalize("NFD", "jürgen")
    response = client.get("/api/resource", headers=basic_auth(decomposed, password))
    assert response.status_code == 200


@PREPARES_LOGINS
@pytest.mark.parametrize("sent", ["ａｌｉｃｅ", "ａlice", "alｉｃｅ"])
def test_a_fullwidth_spelling_logs_in_as_the_plain_name(client, alice, sent):
    response = client.get("/api/resource", headers=basic_auth(sent, PASSPHRASE))
    assert response.status_code == 200
    assert response.get_json() == {"data": "Hello, alice!"}


def test_the_fullwidth_spelling_keeps_its_case(client, alice, app, step, spy):
    # "Ａｌｉｃｅ" is prepared to "Alice": another name, unknown here.
    assert_unauthorized(client.get("/api/resource", headers=basic_auth("Ａｌｉｃｅ", PASSPHRASE)))
    (verified,) = spy.verified
    assert verified != stored_hash(app, step, "alice")  # the dummy hash


@PREPARES_LOGINS
@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_a_password_logs_in_in_either_normalization_form(client, form):
    # Registered with U+00FC (or u + U+0308), sent the other way: one password (OpaqueString).
    password = "pässwörd-ünïcode-1"
    register(client, "jürgen", unicodedata.normalize(form, password))
    other = unicodedata.normalize("NFD" if form == "NFC" else "NFC", password)
    response = client.get("/api/resource", headers=basic_auth("jürgen", other))
    assert response.status_code == 200
    assert response.get_json() == {"data": "Hello, jürgen!"}


# (the space in the password at registration, the space sent at login)
SPACES = [("\u00a0", " "), (" ", "\u00a0"), ("\u3000", " "), ("\u2003", "\u202f"), ("\u1680", " ")]


@PREPARES_LOGINS
@pytest.mark.parametrize(
    "registered, sent", SPACES, ids=[f"{ascii(r)}-{ascii(s)}" for r, s in SPACES]
)
def test_every_space_in_a_password_is_the_ascii_space(client, registered, sent):
    register(client, "alice", f"correct{registered}horse{registered}battery")
    response = client.get(
        "/api/resource", headers=basic_auth("alice", f"correct{sent}horse{sent}battery")
    )
    assert response.status_code == 200


def test_a_password_still_has_to_match(client):
    # Preparation makes equal what the standard calls equal, and nothing else.
    register(client, "alice", "correct horse battery")
    for wrong in ("correct  horse battery", "correct-horse-battery", "correcthorsebattery"):
        assert_unauthorized(client.get("/api/resource", headers=basic_auth("alice", wrong)))


def test_usernames_are_case_sensitive(client, alice):
    assert_unauthorized(client.get("/api/resource", headers=basic_auth("Alice", PASSPHRASE)))


@pytest.mark.real_cost
def test_authentication_at_the_real_cost(client, alice):
    response = client.get("/api/resource", headers=basic_auth("alice", PASSPHRASE))
    assert response.get_json() == {"data": "Hello, alice!"}
    assert_unauthorized(client.get("/api/resource", headers=basic_auth("alice", "x" * 15)))


def test_responses_never_contain_the_password_or_hash(client, alice, app, step):
    with app.app_context():
        stored_hash = step.db.session.scalar(step.db.select(step.User.password_hash))
    for response in (
        client.get("/api/resource", headers=basic_auth("alice", PASSPHRASE)),
        client.get("/api/resource", headers=basic_auth("alice", "wrong-" + PASSPHRASE)),
        client.get(f"/api/users/{alice['id']}"),
    ):
        text = response.get_data(as_text=True)
        assert PASSPHRASE not in text
        assert stored_hash not in text


def test_wrong_method_on_the_resource_is_405(client):
    response = client.post("/api/resource")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]
