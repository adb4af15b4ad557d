"""No request can forge a log line (OWASP ASVS 5.0 V16.4.1), on both servers.

A client puts each character at which str.splitlines() ends a line, and ESC, in every field
that a server or the app may log: the path, percent-encoded and as raw bytes, the query, a
header and the username of Basic credentials, each time followed by a mark of its own. The
first and the last step are served by `make run` (the development server) and by `make
serve` (gunicorn); once the server has stopped, no line of its log begins with a mark, and
no mark follows a control character or a separator as the client sent it.
"""

import base64
import re
from urllib.parse import quote

import pytest

from steps import STEPS
from tests.helpers import LINE_BREAKS, send_raw

SERVERS = [
    pytest.param(
        (number, target), id=f"step{number}-{target}", marks=getattr(pytest.mark, f"step{number}")
    )
    for number in (1, len(STEPS))
    for target in ("run", "serve")
]

pytestmark = [
    pytest.mark.live,
    pytest.mark.parametrize("shared_live_server", SERVERS, indirect=True, scope="module"),
]

CHARACTERS = [*LINE_BREAKS, "\x1b"]
UNSAFE = "[\x00-\x1f\x7f-\x9f\u2028\u2029]"  # as a client sent it
TOKEN = "fra_" + "Lg7-w_" * 7 + "Q"  # the shape of step 5's tokens


def forms(character: str) -> set[bytes]:
    """The character in UTF-8, and as one byte where it has one (gunicorn reads %85 and
    the byte 0x85 as NEL: WSGI decodes a path and a header as ISO-8859-1)."""
    encodings = ("utf-8", "latin-1") if ord(max(character)) < 0x100 else ("utf-8",)
    return {character.encode(encoding) for encoding in encodings}


def request(target: bytes, headers: bytes = b"") -> bytes:
    return b"GET %s HTTP/1.1\r\nHost: h\r\n%sConnection: close\r\n\r\n" % (target, headers)


def probes() -> dict[str, bytes]:
    """Each request, by the mark that it puts after the character (a path's begins "path")."""
    requests = {}

    def add(field: str, target: bytes, headers: bytes = b"") -> None:
        mark = f"{field}{len(requests)}x".encode()
        requests[mark.decode()] = request(
            target.replace(b"MARK", mark), headers.replace(b"MARK", mark)
        )

    for character in CHARACTERS:
        for raw in sorted(forms(character)):
            encoded = quote(raw).encode()
            add("path", b"/api/users/1%sMARK" % encoded)
            add("query", b"/api/users/1?q=%sMARK" % encoded)
            add("token", b"/api/users/%s%sMARK" % (TOKEN.encode(), encoded))
            if b"\r" in raw or b"\n" in raw:  # these would end the request line itself
                continue
            add("raw", b"/api/users/1%sMARK" % raw)
            add(
                "header",
                b"/api/users/1",
                b"User-Agent: a%sMARK\r\nReferer: /%sMARK\r\n" % (raw, raw),
            )
        mark = f"username{len(requests)}x"  # the one that add() gives it
        credentials = base64.b64encode(f"a{character}{mark}:pw".encode())
        add("username", b"/api/resource", b"Authorization: Basic %s\r\n" % credentials)
    return requests


PROBES = probes()


@pytest.fixture(scope="module")
def log(shared_live_server):
    """The server's log once every probe has been sent and the server has stopped."""
    for data in PROBES.values():
        status = send_raw(shared_live_server, data)[0]
        assert status in (400, 401, 404), data  # refused by the server or by the app
    shared_live_server.stop()  # so that the log is complete
    return shared_live_server.log_text()


def test_no_line_of_the_log_begins_where_a_client_put_a_line_break(log):
    forged = [line for line in log.splitlines() if line.startswith(tuple(PROBES))]
    assert forged == []


def test_no_mark_follows_a_control_character_as_the_client_sent_it(log):
    for mark in PROBES:
        assert not re.search(UNSAFE + mark, log), mark


def test_every_path_that_carried_a_line_break_was_logged(log):
    # Escaped, or as the client percent-encoded it: the two tests above saw these lines.
    paths = [mark for mark in PROBES if mark.startswith("path")]
    assert [mark for mark in paths if mark not in log] == []


def test_a_token_beside_a_line_break_is_still_masked(shared_live_server, log):
    if shared_live_server.step < 5:
        pytest.skip("tokens begin in step 5")
    assert "fra_[masked]" in log
    assert TOKEN[4:24] not in log
