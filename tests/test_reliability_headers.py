"""Hostile Authorization headers sent over real HTTP to live servers of steps 4 and 6.

Each one is a 401 problem with a WWW-Authenticate challenge, never a 500, and the
right credentials still work afterwards. Step 5 also gets hostile bearer tokens.
"""

import base64

import pytest
import requests

from steps import LAST
from tests.helpers import PASSPHRASE, assert_problem, basic_auth, live_steps, register_live

pytestmark = [
    pytest.mark.live,
    pytest.mark.parametrize(
        "shared_live_server", live_steps(4, LAST), indirect=True, scope="module"
    ),
]


def basic(credentials: bytes) -> str:
    return "Basic " + base64.b64encode(credentials).decode("ascii")


@pytest.fixture(scope="module")
def alice(shared_live_server):
    assert register_live(shared_live_server, "alice").status_code == 201


def get_resource(server, authorization):
    headers = {"Authorization": authorization}
    return requests.get(f"{server.url}/api/resource", headers=headers, timeout=60)


HOSTILE = {
    "scheme-only": "Basic",
    "scheme-and-space": "Basic ",
    "not-base64": "Basic !!!not-base64!!!",
    "no-colon": basic(b"alice" + PASSPHRASE.encode()),
    "username-not-utf-8": basic(b"\xff\xfe:" + PASSPHRASE.encode()),
    "password-not-utf-8": basic(b"alice:\xff" + PASSPHRASE.encode()),
    "raw-bytes-in-header": b"Basic \xff\xfe\xfd",
    "bearer-token": "Bearer abc.def",
    "password-5000-characters": basic(b"alice:" + b"x" * 5000),
    "password-with-nul": basic(b"alice:" + PASSPHRASE.encode() + b"\0"),
    "empty-username-and-password": basic(b":"),
    "username-with-zero-width-space": basic(f"alice\u200b:{PASSPHRASE}".encode()),
    "password-with-tab": basic(f"alice:{PASSPHRASE}\t".encode()),
    "password-with-variation-selector": basic(f"alice:\u2764\ufe0f{PASSPHRASE}".encode()),
}


@pytest.mark.parametrize("authorization", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_authorization_headers_are_401(shared_live_server, alice, authorization):
    response = get_resource(shared_live_server, authorization)
    assert_problem(response, 401)
    assert 'Basic realm="' in response.headers["WWW-Authenticate"]


def test_a_header_over_the_servers_line_limit_is_refused_before_the_app(shared_live_server):
    # Python's HTTP server refuses header lines over 64 KiB itself (431, in HTML,
    # since the app never runs), and keeps serving.
    response = get_resource(shared_live_server, "Basic " + "A" * 70_000)
    assert response.status_code == 431
    assert get_resource(shared_live_server, "Bearer abc.def").status_code == 401


def test_the_right_credentials_still_work(shared_live_server, alice):
    response = requests.get(
        f"{shared_live_server.url}/api/resource",
        headers=basic_auth("alice", PASSPHRASE),
        timeout=60,
    )
    assert response.status_code == 200
    assert response.json() == {"data": "Hello, alice!"}


def test_the_fullwidth_spelling_logs_in_as_alice(shared_live_server, alice):
    response = requests.get(
        f"{shared_live_server.url}/api/resource",
        headers=basic_auth("ａｌｉｃｅ", PASSPHRASE),  # sent as UTF-8, as curl does
        timeout=60,
    )
    assert response.status_code == 200
    assert response.json() == {"data": "Hello, alice!"}


@pytest.fixture(scope="module")
def token(shared_live_server, alice):
    if shared_live_server.step < 5:
        pytest.skip("tokens begin in step 5")
    response = requests.post(
        f"{shared_live_server.url}/api/tokens",
        headers=basic_auth("alice", PASSPHRASE),
        timeout=60,
    )
    assert response.status_code == 200
    return response.json()["access_token"]


HOSTILE_BEARER = {
    "scheme-only": lambda token: "Bearer",
    "junk-after-the-token": lambda token: f"Bearer {token}!!junk",
    "two-tokens": lambda token: f"Bearer {token} {token}",
    "joined-headers": lambda token: f"Bearer {token},Bearer {token}",
    "raw-bytes": lambda token: b"Bearer " + token.encode() + b"\xff",
    "5000-characters": lambda token: "Bearer " + "A" * 5000,
    "nul": lambda token: f"Bearer {token}\0",
    "tab-after-the-scheme": lambda token: f"Bearer\t{token}",
    "space-then-tab": lambda token: f"Bearer \t{token}",
    "inner-space": lambda token: f"Bearer {token[:20]} {token[20:]}",
    "quoted": lambda token: f'Bearer "{token}"',
    "trailing-comma": lambda token: f"Bearer {token},",
}


@pytest.mark.parametrize("make_value", HOSTILE_BEARER.values(), ids=HOSTILE_BEARER.keys())
def test_hostile_bearer_values_are_401_invalid_token(shared_live_server, token, make_value):
    response = get_resource(shared_live_server, make_value(token))
    assert_problem(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_the_token_still_works(shared_live_server, token):
    response = get_resource(shared_live_server, f"Bearer {token}")
    assert response.status_code == 200
    assert response.json() == {"data": "Hello, alice!"}
