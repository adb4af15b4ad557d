"""What the HTTP server decides, tried on both servers: `make run` and `make serve` (gunicorn).

The two servers differ in what they take from a request before the app sees it: which
headers they trust from loopback (gunicorn takes X-Forwarded-Proto and a SCRIPT_NAME
header from there unless told otherwise, as `make serve` does), how they join repeated
header fields, and how they frame a chunked body. So the Location of a 201, proxy headers,
repeated Authorization headers and chunked bodies are tried here, over raw HTTP/1.1,
against a live server of each kind.
"""

import base64
import http.client
import json
from urllib.parse import urljoin

import pytest
import requests

from steps import LAST
from tests.helpers import PASSPHRASE, register_live, send_raw, step_mark, stored_users

# What the servers decide is the same beside every step, and what the app does with it is
# the step's code, tested in-process on each step: here, step 4, the first with every route
# these tests use (registration and authentication), and the complete app.
SERVERS = [
    pytest.param((step, target), id=f"step{step}-{target}", marks=step_mark(step))
    for step in (4, LAST)
    for target in ("run", "serve")
]

pytestmark = [
    pytest.mark.live,
    pytest.mark.parametrize("shared_live_server", SERVERS, indirect=True, scope="module"),
]


def send(server, method, target, headers, body=None, chunked=False):
    """One request over a new connection, exactly as given: headers may repeat, and no
    Host header is added. Returns the status, the response headers and the parsed body."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
            pieces = [body[start : start + 1024] for start in range(0, len(body), 1024)]
            connection.endheaders(pieces, encode_chunked=True)
        else:
            if body is not None and "Transfer-Encoding" not in dict(headers):
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def registration(username: str) -> bytes:
    return json.dumps({"username": username, "password": PASSPHRASE}).encode()


JSON = ("Content-Type", "application/json")

# Headers a client (or a proxy) controls, from which a URL built from the request would
# take its scheme, host or path prefix.
HOST_AND_PROXY_HEADERS = {
    "docker-service-name": [("Host", "auth_api:5000")],
    "other-host": [("Host", "evil.example")],
    "empty-host": [("Host", "")],
    "no-host": [],
    "ipv6-host": [("Host", "[::1]:5000")],
    "forwarded-headers": [
        ("Host", "localhost"),
        ("X-Forwarded-Host", "evil.example"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Port", "8443"),
        ("X-Forwarded-Prefix", "/evil"),
        ("Forwarded", "host=evil.example;proto=https"),
    ],
}


@pytest.mark.parametrize(
    "headers", HOST_AND_PROXY_HEADERS.values(), ids=HOST_AND_PROXY_HEADERS.keys()
)
def test_the_location_is_the_path_of_the_new_user_whatever_the_headers(
    shared_live_server, headers
):
    name = f"host{len(stored_users(shared_live_server.database_url))}"
    status, response_headers, body = send(
        shared_live_server, "POST", "/api/users", [*headers, JSON], registration(name)
    )
    assert status == 201, body
    user = json.loads(body)
    assert response_headers["Location"] == f"/api/users/{user['id']}"


@pytest.mark.parametrize(
    "target", ["http://evil.example/api/users", "https://evil.example:8443/api/users"]
)
def test_an_absolute_request_target_does_not_change_the_location(shared_live_server, target):
    name = f"target{len(stored_users(shared_live_server.database_url))}"
    status, headers, body = send(
        shared_live_server, "POST", target, [("Host", "localhost"), JSON], registration(name)
    )
    assert status == 201, body
    assert headers["Location"] == f"/api/users/{json.loads(body)['id']}"


# Headers that gunicorn, by default, takes from a peer on loopback (where a proxy would be):
# a SCRIPT_NAME header sets the path prefix, and X-Forwarded-Proto, X-Forwarded-Ssl and
# X-Forwarded-Protocol the scheme, refused with gunicorn's own HTML error page when they
# disagree. `make serve` trusts no peer, as the development server, so the two servers
# agree and none of these headers changes the answer.
LOOPBACK_PROXY_HEADERS = {
    "script-name": [("SCRIPT_NAME", "/evil")],
    "script-name-of-the-path": [("SCRIPT_NAME", "/api")],
    "scheme-headers-that-disagree": [("X-Forwarded-Proto", "https"), ("X-Forwarded-Ssl", "off")],
    "repeated-scheme-header": [("X-Forwarded-Proto", "https"), ("X-Forwarded-Proto", "http")],
    "protocol-header": [("X-Forwarded-Protocol", "ssl"), ("X-Forwarded-Proto", "http")],
}


@pytest.mark.parametrize(
    "headers", LOOPBACK_PROXY_HEADERS.values(), ids=LOOPBACK_PROXY_HEADERS.keys()
)
def test_proxy_headers_from_loopback_change_nothing(shared_live_server, headers):
    name = f"proxied{len(stored_users(shared_live_server.database_url))}"
    status, response_headers, body = send(
        shared_live_server,
        "POST",
        "/api/users",
        [("Host", "localhost"), *headers, JSON],
        registration(name),
    )
    assert status == 201, body
    assert response_headers["Location"] == f"/api/users/{json.loads(body)['id']}"


def test_a_script_name_header_does_not_mount_the_app_under_a_prefix(shared_live_server):
    name = f"script{len(stored_users(shared_live_server.database_url))}"
    headers = [("Host", "localhost"), ("SCRIPT_NAME", "/evil"), JSON]
    status, response_headers, body = send(
        shared_live_server, "POST", "/evil/api/users", headers, registration(name)
    )
    assert status == 404, body
    assert response_headers["Content-Type"] == "application/problem+json"
    assert name not in stored_users(shared_live_server.database_url)


@pytest.mark.parametrize(
    "method, target",
    [("GET", "/api//users/1"), ("GET", "/api/users//1"), ("POST", "/api//users")],
)
def test_doubled_slashes_are_a_404_not_a_redirect(shared_live_server, method, target):
    register_live(shared_live_server, f"user{len(stored_users(shared_live_server.database_url))}")
    name = f"slashes{len(stored_users(shared_live_server.database_url))}"
    headers = [("Host", "evil.example"), JSON]
    status, response_headers, body = send(
        shared_live_server, method, target, headers, registration(name)
    )
    assert status == 404, body
    assert response_headers["Content-Type"] == "application/problem+json"
    assert "Location" not in response_headers
    assert name not in stored_users(shared_live_server.database_url)


@pytest.mark.parametrize("leading", ["//", "///"])
@pytest.mark.parametrize("target", ["{}api/users/1", "http://h{}api/users/1", "{}api/resource"])
def test_slashes_at_the_start_count_as_one_on_both_servers(shared_live_server, leading, target):
    """The development server (Python's http.server) merges them before the app sees the
    path; gunicorn passes them on, and Werkzeug's router drops them: the same answer."""
    register_live(shared_live_server, "alice")
    one = target.format("/").removeprefix("http://h")
    status, headers, body = send(
        shared_live_server, "GET", target.format(leading), [("Host", "h")]
    )
    assert (status, body) == send(shared_live_server, "GET", one, [("Host", "h")])[::2]
    assert status in (200, 401), body  # the route, not a 404 or a redirect
    assert "Location" not in headers


def test_the_location_resolves_against_the_request_url_to_the_user(shared_live_server):
    response = register_live(shared_live_server, "follower")
    assert response.status_code == 201
    followed = requests.get(urljoin(response.url, response.headers["Location"]), timeout=60)
    assert followed.status_code == 200
    assert followed.json() == response.json()


def padded(username: str, size: int, after: bytes = b"") -> bytes:
    data = registration(username)
    return data + b" " * (size - len(data)) + after


@pytest.mark.parametrize(
    "data",
    [
        padded("chunky", 16 * 1024, b"not JSON" * 160),  # the 17,664 bytes
        padded("chunky", 16 * 1024, b" "),
        padded("chunky", 16 * 1024),
    ],
    ids=["valid-json-then-more", "one-byte-over", "exactly-16-kib"],
)
def test_a_chunked_body_that_reaches_16_kib_is_413(shared_live_server, data):
    before = stored_users(shared_live_server.database_url)
    status, headers, body = send(
        shared_live_server, "POST", "/api/users", [("Host", "localhost"), JSON], data, True
    )
    assert status == 413, body
    assert headers["Content-Type"] == "application/problem+json"
    assert stored_users(shared_live_server.database_url) == before


def test_a_chunked_body_under_the_limit_registers(shared_live_server):
    data = padded("chunked", 16 * 1024 - 1)
    status, _, body = send(
        shared_live_server, "POST", "/api/users", [("Host", "localhost"), JSON], data, True
    )
    assert status == 201, body


@pytest.mark.parametrize(
    "headers, status",
    [
        ([("Content-Encoding", "br")], 415),
        ([("Content-Encoding", "gzip"), ("Content-Encoding", "identity")], 415),
        ([("Transfer-Encoding", "gzip, chunked")], 501),
    ],
    ids=["content-encoding-br", "content-encoding-twice", "transfer-encoding-gzip"],
)
def test_a_body_in_a_coding_nobody_decodes_is_refused(shared_live_server, headers, status):
    # The body is plain JSON: read as if the coding were absent, it would register.
    before = stored_users(shared_live_server.database_url)
    data = registration("encoded")
    if ("Transfer-Encoding", "gzip, chunked") in headers:  # framed as it says, by hand
        data = b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)
    status_got, response_headers, body = send(
        shared_live_server, "POST", "/api/users", [("Host", "localhost"), JSON, *headers], data
    )
    assert status_got == status, body
    assert response_headers["Content-Type"] == "application/problem+json"
    if status == 415:
        assert response_headers["Accept-Encoding"] == "identity"
    assert stored_users(shared_live_server.database_url) == before


def basic(username: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{PASSPHRASE}".encode()).decode()


@pytest.fixture(scope="module")
def two_users(shared_live_server):
    for name in ("alice", "bob"):
        assert register_live(shared_live_server, name).status_code in (201, 409)


@pytest.mark.parametrize(
    "values",
    [
        [basic("alice"), basic("bob")],
        [basic("bob"), basic("alice")],
        [basic("alice"), basic("alice")],
        [basic("alice"), "Basic !!junk!!"],
        ["Bearer abc", basic("alice")],
    ],
    ids=[
        "alice-then-bob",
        "bob-then-alice",
        "alice-twice",
        "alice-then-junk",
        "bearer-then-alice",
    ],
)
def test_repeated_authorization_headers_authenticate_nobody(shared_live_server, two_users, values):
    # A proxy may read either of the headers: the app must not pick one for it.
    headers = [("Host", "localhost"), *(("Authorization", value) for value in values)]
    status, response_headers, body = send(shared_live_server, "GET", "/api/resource", headers)
    assert status == 401, body
    assert "Basic" in response_headers["WWW-Authenticate"]


def test_one_authorization_header_still_works(shared_live_server, two_users):
    headers = [("Host", "localhost"), ("Authorization", basic("alice"))]
    status, _, body = send(shared_live_server, "GET", "/api/resource", headers)
    assert status == 200, body
    assert json.loads(body) == {"data": "Hello, alice!"}


@pytest.mark.parametrize(
    "before, after", [("", " "), ("", "\t"), (" ", ""), ("\t", " \t")], ids=repr
)
def test_both_servers_read_an_authorization_value_without_the_whitespace_around_it(
    shared_live_server, two_users, before, after
):
    """RFC 9110 §5.5: gunicorn strips it, the development server passes it on to the app."""
    values = [basic("alice")]
    if shared_live_server.step >= 5:
        issued = requests.post(
            f"{shared_live_server.url}/api/tokens",
            headers={"Authorization": basic("alice")},
            timeout=60,
        )
        values.append(f"Bearer {issued.json()['access_token']}")
    for value in values:
        headers = [("Host", "localhost"), ("Authorization", f"{before}{value}{after}")]
        status, _, body = send(shared_live_server, "GET", "/api/resource", headers)
        assert (status, json.loads(body)) == (200, {"data": "Hello, alice!"}), value


def registration_head(length: str = "") -> bytes:
    framing = f"Content-Length: {length}" if length else "Transfer-Encoding: chunked"
    return (
        "POST /api/users HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Connection: close\r\n{framing}\r\n\r\n"
    ).encode()


# Chunks whose framing is broken (RFC 9112 §7.1): each server reads them with its own
# parser and its own errors, as the app reads the body.
BROKEN_CHUNKS = {
    "size-not-hex": b"zz\r\n{}\r\n0\r\n\r\n",
    "negative-size": b"-2\r\n{}\r\n0\r\n\r\n",
    "no-line-end-after-data": b"2\r\n{}XX0\r\n\r\n",
    "control-in-extension": b"2;\x01\r\n{}\r\n0\r\n\r\n",
    "no-last-chunk": b"2\r\n{}\r\n",
}


@pytest.mark.parametrize("chunks", BROKEN_CHUNKS.values(), ids=BROKEN_CHUNKS.keys())
def test_a_broken_chunked_framing_is_a_400(shared_live_server, chunks):
    status, content_type, answer = send_raw(shared_live_server, registration_head() + chunks)
    assert status == 400, answer
    assert content_type == "application/problem+json"
    assert b"chunked framing is broken" in answer


def test_a_body_shorter_than_its_content_length_is_a_400(shared_live_server):
    name = f"short{len(stored_users(shared_live_server.database_url))}"
    data = registration(name)
    head = registration_head(str(len(data) + 100))
    status, content_type, answer = send_raw(shared_live_server, head + data)
    assert status == 400, answer
    assert content_type == "application/problem+json"
    assert b"ended before its Content-Length" in answer
    assert name not in stored_users(shared_live_server.database_url)
