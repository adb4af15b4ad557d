"""Where a secret could leak from a live server of steps 4 to 6: responses, logs, the database.

One server gets every kind of request that carries the password (registration, a taken
name, a refused name, right and wrong credentials, an unknown user) and, from step 5, every
kind that carries a token (issued, used, revoked, used again) and a token put where a
server logs it (a query string, also percent-encoded, a path, a Referer, a request line or
a header that the server refuses), then stops; the tests then look for the password, its
hash and the token in everything the server produced.
"""

import base64
import http.client
from pathlib import Path
from urllib.parse import quote, unquote, urljoin

import pytest
import requests
from sqlalchemy.engine import make_url

from steps import LAST
from tests.helpers import basic_auth, live_steps, register_live, send_raw, step_mark, stored_users

# Steps 4 and 5 under `make run`, and the complete app, the last step, under `make serve`: gunicorn
# writes an access log of its own.
SERVERS = [
    *live_steps(4, 5),
    pytest.param((LAST, "serve"), id=f"step{LAST}-serve", marks=step_mark(LAST)),
]

pytestmark = [
    pytest.mark.live,
    pytest.mark.parametrize("shared_live_server", SERVERS, indirect=True, scope="module"),
]

SECRET = "plum-orbit-lantern-quiet-9431"  # appears nowhere else, so a find is a leak


@pytest.fixture(scope="module")
def responses(shared_live_server):
    """Every request a client makes with the secret password or token; their responses."""
    server = shared_live_server
    responses = [register_live(server, "keeper", SECRET)]
    location = urljoin(responses[0].url, responses[0].headers["Location"])  # a relative reference
    responses.append(requests.get(location, timeout=60))
    # The last: a client that puts the password where the username goes, as some APIs
    # take a token (`curl -u "$TOKEN:"`).
    for username, password in [
        ("keeper", SECRET),
        ("keeper", "x" + SECRET),
        ("nobody", SECRET),
        (SECRET, ""),
    ]:
        headers = basic_auth(username, password)
        responses.append(requests.get(f"{server.url}/api/resource", headers=headers, timeout=60))
    responses.append(register_live(server, "keeper", SECRET))
    responses.append(register_live(server, "keeper:2", SECRET))
    statuses = [response.status_code for response in responses]
    assert statuses == [201, 200, 200, 401, 401, 401, 409, 400]
    if server.step >= 5:
        issued = requests.post(
            f"{server.url}/api/tokens", headers=basic_auth("keeper", SECRET), timeout=60
        )
        bearer = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        misplaced = put_where_servers_log(server, issued.json()["access_token"])
        assert misplaced[:4] == [200, 401, 404, 401]
        # Refused by the server, or no token for the app; the development server drops the
        # requests that it cannot parse.
        assert set(misplaced[4:]) <= {0, 400, 401, 431}
        as_username = basic_auth(issued.json()["access_token"], "")
        responses += [
            issued,
            requests.get(f"{server.url}/api/resource", headers=bearer, timeout=60),
            requests.get(f"{server.url}/api/resource", headers=as_username, timeout=60),
            requests.delete(f"{server.url}/api/tokens", headers=bearer, timeout=60),
            requests.get(f"{server.url}/api/resource", headers=bearer, timeout=60),
        ]
        statuses = [response.status_code for response in responses[-5:]]
        assert statuses == [200, 200, 401, 204, 401]
    server.stop()  # so that the log and the database files are complete
    return responses


def put_where_servers_log(server, token: str) -> list[int]:
    """Send a live token where a client should not put it; return the statuses."""
    # Every character percent-encoded, as a client's URL library may write it.
    encoded = "".join(f"%{byte:02X}" for byte in token.encode())
    statuses = [
        requests.get(f"{server.url}/api/resource?{query}", headers=headers, timeout=60).status_code
        for query, headers in [
            (f"access_token={token}", {"Authorization": f"Bearer {token}"}),
            (f"access_token={encoded}", {}),
        ]
    ]
    statuses.append(requests.get(f"{server.url}/api/users/{quote(token)}", timeout=60).status_code)
    referer = {"Referer": f"http://client.example/callback?access_token={token}"}
    statuses.append(
        requests.get(f"{server.url}/api/resource", headers=referer, timeout=60).status_code
    )
    for head in [
        f"GET /api/resource?access_token={token}\x01 HTTP/1.1\r\nHost: h\r\n",  # gunicorn: 400
        f"GET /api/resource HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer {token}\x00\r\n",
        f"GET /api/resource HTTP/1.1\r\nHost: h\r\nX-{token}\x01: 1\r\n",
        # Request targets that Python's URL parser refuses, in an error of Werkzeug's own
        # that the development server met outside the app (and so answered nothing).
        f"GET http://[{token}]/ HTTP/1.1\r\nHost: h\r\n",
        f"GET http://h:{token}/ HTTP/1.1\r\nHost: h\r\nX-Long: {'a' * 70_000}\r\n",  # 431
    ]:
        try:
            statuses.append(send_raw(server, head.encode() + b"\r\n")[0])
        except http.client.RemoteDisconnected:
            statuses.append(0)  # no answer
    return statuses


@pytest.fixture(scope="module")
def stored_hash(shared_live_server, responses):
    return stored_users(shared_live_server.database_url)["keeper"]


@pytest.fixture(scope="module")
def token(shared_live_server, responses):
    """Step 5's token, from the response that issued it."""
    if shared_live_server.step < 5:
        pytest.skip("tokens begin in step 5")
    issued = next(response for response in responses if response.url.endswith("/api/tokens"))
    return issued.json()["access_token"]


def test_no_response_contains_the_password_or_its_hash(responses, stored_hash):
    for response in responses:
        seen = response.text + str(response.headers)
        assert SECRET not in seen
        assert stored_hash not in seen


def test_no_log_line_contains_the_password(shared_live_server, responses):
    log = shared_live_server.log_text()
    assert "POST /api/users" in log  # the log does record the requests
    assert SECRET not in log
    assert base64.b64encode(f"keeper:{SECRET}".encode()).decode() not in log


def test_the_database_file_holds_the_hash_not_the_password(shared_live_server, stored_hash):
    url = make_url(shared_live_server.database_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("reads the bytes of an SQLite file")
    path = Path(url.database)
    files = sorted(path.parent.glob(path.name + "*"))  # with any journal left over
    stored = b"".join(file.read_bytes() for file in files)
    assert stored_hash.encode() in stored
    assert SECRET.encode() not in stored


def test_only_the_response_that_issues_a_token_contains_it(responses, token):
    issuing = [response for response in responses if token in response.text]
    assert [
        (response.request.method, response.url.endswith("/api/tokens")) for response in issuing
    ] == [("POST", True)]
    assert all(token not in str(response.headers) for response in responses)


def test_no_log_line_contains_the_token(shared_live_server, token):
    log = shared_live_server.log_text()
    assert "DELETE /api/tokens" in log  # the log does record the requests
    for text in (log, unquote(log)):  # also where a client percent-encoded it
        assert token not in text
        assert token[:20] not in text  # nor a piece of it
        assert token.partition("_")[2] not in text  # nor without its prefix
    assert "fra_[masked]" in log  # the requests that carried it were logged, masked


def test_the_database_file_never_holds_the_token(shared_live_server, token):
    url = make_url(shared_live_server.database_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("reads the bytes of an SQLite file")
    path = Path(url.database)
    stored = b"".join(file.read_bytes() for file in sorted(path.parent.glob(path.name + "*")))
    assert token.encode() not in stored
