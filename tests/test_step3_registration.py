"""Step 3: POST /api/users registers a user; every bad request is a 4xx problem.

These tests run against step 3 and step 4.
"""

import json
import unicodedata

import pytest
from sqlalchemy import create_engine, text

from tests.helpers import (
    HASH_PREFIXES,
    PASSPHRASE,
    assert_count,
    assert_default_cost,
    assert_detail_says,
    assert_problem,
    sqlite_lock,
    steps_from,
)

pytestmark = pytest.mark.parametrize("step", steps_from(3), indirect=True)

# The code whose rules a table of cases checks: a later step that carries it byte for byte
# runs only the table's first case (see `carried` in tests/conftest.py).
READS_BODIES = pytest.mark.carried("bodies.py", "headers.py:SafeRequest")
PREPARES = pytest.mark.carried("api.py:read_credentials", "credentials.py")
STORES = pytest.mark.carried(
    "api.py:create_user", "api.py:read_credentials", "credentials.py", "models.py:User"
)


def user_count(app, step):
    with app.app_context():
        return step.db.session.scalar(step.db.select(step.db.func.count(step.User.id)))


def register(client, username="alice", password=PASSPHRASE):
    return client.post("/api/users", json={"username": username, "password": password})


def test_registration_is_201_with_the_user_and_its_location(client):
    response = register(client)
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body == {"id": body["id"], "username": "alice"}
    # A relative reference (RFC 9110 §10.2.2): the client resolves it against its own URL.
    assert response.headers["Location"] == f"/api/users/{body['id']}"


# What a client or a proxy may send that a URL built from the request would echo.
HOST_AND_PROXY_HEADERS = {
    "docker-service-name": {"Host": "auth_api:5000"},
    "other-host": {"Host": "evil.example"},
    "empty-host": {"Host": ""},
    "ipv6-host": {"Host": "[::1]:5000"},
    "forwarded-headers": {
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Port": "8443",
        "X-Forwarded-Prefix": "/evil",
        "Forwarded": "host=evil.example;proto=https",
    },
}


@pytest.mark.carried("api.py:create_user")
@pytest.mark.parametrize(
    "headers", HOST_AND_PROXY_HEADERS.values(), ids=HOST_AND_PROXY_HEADERS.keys()
)
def test_no_request_header_changes_the_location(client, headers):
    response = client.post(
        "/api/users", json={"username": "alice", "password": PASSPHRASE}, headers=headers
    )
    assert response.status_code == 201
    assert response.headers["Location"] == f"/api/users/{response.get_json()['id']}"


def test_a_script_name_from_the_server_does_not_change_the_location(client):
    # gunicorn takes SCRIPT_NAME from a request header when it comes from loopback.
    response = client.post(
        "/api/users",
        json={"username": "alice", "password": PASSPHRASE},
        environ_overrides={"SCRIPT_NAME": "/evil"},
    )
    assert response.status_code == 201
    assert response.headers["Location"] == f"/api/users/{response.get_json()['id']}"


def test_the_location_serves_the_new_user(client):
    response = register(client)
    followed = client.get(response.headers["Location"])
    assert followed.status_code == 200
    assert followed.get_json() == response.get_json()


def test_the_response_never_contains_the_password_or_hash(client, app, step):
    body = register(client).get_data(as_text=True)
    with app.app_context():
        stored_hash = step.db.session.scalar(step.db.select(step.User.password_hash))
    assert PASSPHRASE not in body
    assert stored_hash not in body
    assert stored_hash != PASSPHRASE


@pytest.mark.real_cost
def test_registration_hashes_at_the_default_cost(client, app, step):
    assert register(client).status_code == 201
    with app.app_context():
        user = step.db.session.scalar(step.db.select(step.User))
        assert_default_cost(step.pwd_context, user.password_hash)
        assert user.verify_password(PASSPHRASE)


VALID = {"username": "alice", "password": PASSPHRASE}

# (JSON body, words the problem's detail must contain)
INVALID_BODIES = [
    ([VALID], "JSON object"),
    ("alice", "JSON object"),
    (42, "JSON object"),
    (None, "JSON object"),
    ({}, "'username' is required"),
    ({"password": PASSPHRASE}, "'username' is required"),
    ({"username": "alice"}, "'password' is required"),
    ({**VALID, "username": 42}, "'username' is required and must be a string"),
    ({**VALID, "username": None}, "'username' is required and must be a string"),
    ({**VALID, "username": ["alice"]}, "'username' is required and must be a string"),
    ({**VALID, "username": {"name": "alice"}}, "'username' is required and must be a string"),
    ({**VALID, "username": True}, "'username' is required and must be a string"),
    ({**VALID, "password": 123456789012345678}, "'password' is required and must be a string"),
    ({**VALID, "password": None}, "'password' is required and must be a string"),
    ({**VALID, "password": [PASSPHRASE]}, "'password' is required and must be a string"),
    ({**VALID, "password": False}, "'password' is required and must be a string"),
    ({**VALID, "username": ""}, "1 to 32 characters"),
    ({**VALID, "username": "a" * 33}, "1 to 32 characters"),
    ({**VALID, "username": "é" * 33}, "1 to 32 characters"),
    ({**VALID, "username": "   "}, "'username' must not contain spaces (U+0020)."),
    ({**VALID, "username": "alice smith"}, "U+0020"),
    ({**VALID, "username": "alice\u00a0smith"}, "U+00A0"),
    ({**VALID, "username": "alice\n"}, "U+000A"),
    ({**VALID, "username": "\talice"}, "U+0009"),
    ({**VALID, "username": "al\u200bice"}, "U+200B"),
    ({**VALID, "username": "alice\u202e"}, "U+202E"),
    ({**VALID, "username": "ali\0ce"}, "U+0000"),
    ({**VALID, "username": "\ud800alice"}, "U+D800"),
    ({**VALID, "username": "alice:admin"}, "colon"),
    ({**VALID, "password": ""}, "15 to 128 characters"),
    ({**VALID, "password": "short-password"}, "15 to 128 characters"),
    ({**VALID, "password": "x" * 129}, "15 to 128 characters"),
    ({**VALID, "password": "x" * 5000}, "15 to 128 characters"),
    ({**VALID, "password": "correct-horse\0battery"}, "U+0000"),
    ({**VALID, "password": "correct-horse-\udc00-battery"}, "surrogates"),
]


@pytest.mark.carried("api.py:read_credentials", "bodies.py", "credentials.py")
@pytest.mark.parametrize(
    "payload, detail", INVALID_BODIES, ids=[json.dumps(b)[:40] for b, _ in INVALID_BODIES]
)
def test_invalid_bodies_are_400_and_store_nothing(client, app, step, spy, payload, detail):
    response = client.post("/api/users", data=json.dumps(payload), content_type="application/json")
    body = assert_problem(response, 400)
    assert detail in body["detail"]
    assert_count("users stored", user_count(app, step), 0)
    assert_count("passwords hashed", len(spy.hashed), 0)  # refused before any (slow) hashing


# (raw bytes sent as application/json, words the detail must contain)
# (raw bytes sent as application/json, words the detail must contain)
MALFORMED = [
    (b"", "not valid JSON"),
    (b"{", "not valid JSON"),
    (b"{'username': 'alice'}", "not valid JSON"),
    (b'{"username": "alice", "password": "correct-horse-battery-staple",}', "not valid JSON"),
    (
        b'{"username": "\xff\xfe", "password": "correct-horse-battery-staple"}',
        "not encoded as UTF-8",
    ),
    (b'{"username": "\xc3", "password": "correct-horse-battery-staple"}', "not encoded as UTF-8"),
]


@READS_BODIES
@pytest.mark.parametrize("data, detail", MALFORMED, ids=[repr(d[:20]) for d, _ in MALFORMED])
def test_malformed_json_is_400_and_stores_nothing(client, app, step, data, detail):
    response = client.post("/api/users", data=data, content_type="application/json")
    body = assert_problem(response, 400)
    assert detail in body["detail"]
    assert_count("users stored", user_count(app, step), 0)


# (JSON that is valid UTF-8, where it breaks as Python's parser reports it on every version)
WHERE_IT_BREAKS = [
    (b"", "line 1 column 1 (char 0)"),
    (b"{'username': 'alice'}", "line 1 column 2 (char 1)"),
    (b'{\n  "username": "bob",\n  "password":\n}', "line 4 column 1 (char 37)"),
    (b'{"username": "b\xc3\xa9b" "password": "x"}', "line 1 column 20 (char 19)"),  # é: one
]


@READS_BODIES
@pytest.mark.parametrize(
    "data, where", WHERE_IT_BREAKS, ids=[repr(d[:20]) for d, _ in WHERE_IT_BREAKS]
)
def test_the_detail_says_where_the_json_breaks_and_nothing_of_encodings(client, data, where):
    response = client.post("/api/users", data=data, content_type="application/json")
    detail = assert_problem(response, 400)["detail"]
    assert where in detail
    assert "UTF-8" not in detail and "encod" not in detail  # the bytes were fine


def with_raw_number(field: str, number: bytes) -> bytes:
    """A registration whose `field` is the given JSON number, written out as bytes."""
    fields = {**VALID, field: "NUMBER"}
    return json.dumps(fields).encode().replace(b'"NUMBER"', number)


# Python refuses to turn more than 4,300 digits into an int (CVE-2020-10735): a 500 unless
# it is caught. (raw bytes, the words of the detail)
HUGE_NUMBERS = [
    (with_raw_number("password", b"1" * 5000), "number too long"),
    (with_raw_number("username", b"-" + b"9" * 4301), "number too long"),
    (with_raw_number("padding", b"[" + b"7" * 4400 + b"]"), "number too long"),
    (b"1" * 4400, "number too long"),
    (with_raw_number("password", b"1" * 4300), "'password' is required and must be a string"),
    (with_raw_number("password", b"1." + b"1" * 5000), "'password' is required and must be"),
    (with_raw_number("password", b"1e999999"), "'password' is required and must be a string"),
]


@READS_BODIES
@pytest.mark.parametrize(
    "data, detail",
    HUGE_NUMBERS,
    ids=["5000-digits", "4301-negative", "in-an-array", "alone", "4300-digits", "decimal", "inf"],
)
def test_huge_numbers_are_400_and_store_nothing(client, app, step, spy, data, detail):
    response = client.post("/api/users", data=data, content_type="application/json")
    body = assert_problem(response, 400)
    assert detail in body["detail"]
    assert_count("users stored", user_count(app, step), 0)
    assert_count("passwords hashed", len(spy.hashed), 0)


# The body is read as I-JSON (RFC 7493): JSON that every parser reads alike. Python's parser
# alone keeps the last of two equal names in an object (another parser, a proxy's say, may
# keep the first) and reads NaN and Infinity, which are not JSON. (raw bytes, the words of
# the detail)
NOT_I_JSON = [
    (b'{"username": "alice", "username": "mallory", "password": "%s"}', "username"),
    (b'{"username": "alice", "password": "short", "password": "%s"}', "password"),
    (b'{"username": "alice", "\\u0075sername": "bob", "password": "%s"}', "username"),
    (b'{"username": "alice", "password": "%s", "extra": {"k": 1, "k": 2}}', "k"),
    (b'{"username": "alice", "password": "%s", "extra": NaN}', "NaN"),
    (b'{"username": "alice", "password": "%s", "extra": [Infinity]}', "Infinity"),
    (b'{"username": "alice", "password": "%s", "extra": -Infinity}', "-Infinity"),
]


@READS_BODIES
@pytest.mark.parametrize(
    "data, name",
    NOT_I_JSON,
    ids=[
        "username-twice",
        "password-twice",
        "escaped-twice",
        "nested-twice",
        "nan",
        "infinity",
        "minus-infinity",
    ],
)
def test_json_that_parsers_read_differently_is_400(client, app, step, spy, data, name):
    data = data.replace(b"%s", PASSPHRASE.encode())
    response = client.post("/api/users", data=data, content_type="application/json")
    detail = assert_problem(response, 400)["detail"]
    if name in ("NaN", "Infinity", "-Infinity"):
        assert detail == f"{name} is not a JSON value."
    else:
        assert detail == f"The body gives the name {name!r} twice in one object."
    assert_count("users stored", user_count(app, step), 0)
    assert_count("passwords hashed", len(spy.hashed), 0)


@READS_BODIES
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_body_in_another_unicode_encoding_is_400(client, app, step, encoding):
    # RFC 8259 §8.1: JSON between systems is UTF-8. Python's parser guesses the others.
    data = json.dumps(VALID).encode(encoding)
    response = client.post("/api/users", data=data, content_type="application/json")
    assert_problem(response, 400)
    assert_count("users stored", user_count(app, step), 0)


def test_a_utf_8_byte_order_mark_is_ignored(client):
    # RFC 8259 §8.1: a parser may ignore one (a client must not send it).
    data = b"\xef\xbb\xbf" + json.dumps(VALID).encode()
    response = client.post("/api/users", data=data, content_type="application/json")
    assert response.status_code == 201


# How deep Python's JSON parser goes depends on its version: 3.11 and 3.12 give up on these
# with RecursionError (unhandled, a 500), 3.13 parses them (9,000 levels on 3.13.0). Either
# way the answer is a 400 whose detail is true for the input: it is nested too deeply, or it
# is what the parsed value lacks. (raw bytes, the words of each true detail)
DEEPLY_NESTED = [
    (b"[" * 5000 + b"]" * 5000, ("nested too deeply", "The body must be a JSON object.")),
    (b'{"a":' * 2000 + b"1" + b"}" * 2000, ("nested too deeply", "'username' is required")),
]


@READS_BODIES
@pytest.mark.parametrize(
    "data, detail", DEEPLY_NESTED, ids=["array-5000-deep", "object-2000-deep"]
)
def test_deeply_nested_json_is_400_with_a_true_detail(client, app, step, data, detail):
    response = client.post("/api/users", data=data, content_type="application/json")
    assert_detail_says(assert_problem(response, 400), detail)
    assert_count("users stored", user_count(app, step), 0)


@READS_BODIES
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_json_is_415(client, app, step, content_type):
    data = "username=alice&password=correct-horse-battery-staple"
    response = client.post("/api/users", data=data, content_type=content_type)
    assert_problem(response, 415)
    assert "Accept-Encoding" not in response.headers  # the media type is wrong, not a coding
    assert_count("users stored", user_count(app, step), 0)


def test_a_body_over_16_kib_is_413(client, app, step):
    payload = json.dumps({**VALID, "padding": "x" * 16 * 1024})
    response = client.post("/api/users", data=payload, content_type="application/json")
    assert_problem(response, 413)
    assert_count("users stored", user_count(app, step), 0)


def padded(size: int, after: bytes = b"") -> bytes:
    """A valid registration padded with spaces to `size` bytes, then `after`."""
    data = json.dumps(VALID).encode()
    return data + b" " * (size - len(data)) + after


def post_chunked(client, data: bytes):
    """POST without Content-Length, as a server passes on a chunked body."""
    return client.post(
        "/api/users",
        data=data,
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # what a server sets for one
    )


@READS_BODIES
@pytest.mark.carried("settings.py:configure")
@pytest.mark.parametrize(
    "data",
    [padded(16 * 1024, b"not JSON" * 160), padded(16 * 1024, b" "), padded(16 * 1024)],
    ids=["valid-json-then-more", "one-byte-over", "exactly-16-kib"],
)
def test_a_chunked_body_that_reaches_16_kib_is_413(client, app, step, spy, data):
    # The first 16 KiB of each are a valid registration: cut there, it would be stored.
    assert_problem(post_chunked(client, data), 413)
    assert_count("users stored", user_count(app, step), 0)
    assert_count("passwords hashed", len(spy.hashed), 0)


def test_a_chunked_body_under_the_limit_is_accepted(client):
    response = post_chunked(client, padded(16 * 1024 - 1))
    assert response.status_code == 201


def test_a_body_of_exactly_16_kib_with_its_length_is_accepted(client):
    response = client.post("/api/users", data=padded(16 * 1024), content_type="application/json")
    assert response.status_code == 201


def test_the_413_details_name_the_limit(client):
    payload = json.dumps({**VALID, "padding": "x" * 16 * 1024})
    response = client.post("/api/users", data=payload, content_type="application/json")
    assert "16384 bytes" in assert_problem(response, 413)["detail"]
    response = post_chunked(client, padded(16 * 1024))
    assert "16384 bytes" in assert_problem(response, 413)["detail"]


@READS_BODIES
@pytest.mark.parametrize("terminated", [True, False], ids=["gunicorn", "werkzeug"])
def test_a_body_shorter_than_its_content_length_is_400(client, app, step, spy, terminated):
    # The client stopped sending early. gunicorn hands the app what came, and tells Werkzeug
    # (wsgi.input_terminated) that the stream ends there; Werkzeug's own server does not.
    data = json.dumps(VALID).encode()
    response = client.post(
        "/api/users",
        data=data,
        content_type="application/json",
        environ_overrides={
            "CONTENT_LENGTH": str(len(data) + 100),
            "wsgi.input_terminated": terminated,
        },
    )
    assert "ended before" in assert_problem(response, 400)["detail"]
    assert_count("users stored", user_count(app, step), 0)
    assert_count("passwords hashed", len(spy.hashed), 0)


@READS_BODIES
@pytest.mark.parametrize(
    "coding", ["br", "gzip", "deflate", "zstd", "GZIP", "x-gzip", "gzip, identity", "unknown"]
)
def test_a_content_coding_is_415_with_accept_encoding(client, app, step, spy, coding):
    # The body is plain JSON: read as if the coding were absent, it would register.
    response = client.post("/api/users", json=VALID, headers={"Content-Encoding": coding})
    body = assert_problem(response, 415)
    assert "Content-Encoding" in body["detail"]
    assert response.headers["Accept-Encoding"] == "identity"  # RFC 9110 §15.5.16
    assert_count("users stored", user_count(app, step), 0)
    assert_count("passwords hashed", len(spy.hashed), 0)


@READS_BODIES
@pytest.mark.parametrize("coding", ["identity", "IDENTITY", ""])
def test_the_identity_coding_is_no_coding(client, coding):
    response = client.post("/api/users", json=VALID, headers={"Content-Encoding": coding})
    assert response.status_code == 201


@READS_BODIES
@pytest.mark.parametrize("coding", ["gzip, chunked", "deflate, chunked", "br, chunked"])
def test_a_transfer_coding_other_than_chunked_is_501(client, app, step, spy, coding):
    response = client.post("/api/users", json=VALID, headers={"Transfer-Encoding": coding})
    body = assert_problem(response, 501)
    assert "Transfer-Encoding" in body["detail"]
    assert_count("users stored", user_count(app, step), 0)
    assert_count("passwords hashed", len(spy.hashed), 0)


# (username, words naming its kind, the code point): what RFC 8265's UsernameCasePreserved
# profile refuses. Every character is assigned in Unicode 14 (Python 3.11) and later.
REFUSED_USERNAMES = [
    ("alice\u200b", "invisible", "U+200B"),  # zero width space
    ("ali\u00adce", "invisible", "U+00AD"),  # soft hyphen
    ("alice\u2060", "invisible", "U+2060"),  # word joiner
    ("\ufeffalice", "invisible", "U+FEFF"),  # byte order mark
    ("alice\u2066", "invisible", "U+2066"),  # left-to-right isolate
    ("alice\ufe0f", "invisible", "U+FE0F"),  # variation selector 16
    ("alice\u200dbob", "joiner", "U+200D"),  # zero width joiner, not after a virama
    ("alice\u200cbob", "non-joiner", "U+200C"),  # zero width non-joiner, not after a virama
    ("alice smith", "spaces", "U+0020"),
    ("alice\tsmith", "control", "U+0009"),
    ("alice\x85", "control", "U+0085"),  # next line, a C1 control
    ("ﬁsher", "compatibility", "U+FB01"),  # the ligature fi
    ("①lice", "compatibility", "U+2460"),
    ("alice²", "compatibility", "U+00B2"),
    ("alice™", "compatibility", "U+2122"),
    ("𝐚lice", "compatibility", "U+1D41A"),  # mathematical bold a
    ("alice\u3000", "compatibility", "U+3000"),  # ideographic space, a variant of U+0020
    ("alice\u00a0smith", "special spaces", "U+00A0"),  # no-break space: named a space
    ("alice❤", "symbols", "U+2764"),
    ("alice©", "symbols", "U+00A9"),
    ("o\u2019brien", "punctuation", "U+2019"),  # the curly apostrophe of phone keyboards
    ("«alice»", "punctuation", "U+00AB"),
    ("alice\u2028", "line separators", "U+2028"),
    ("alice\ue000", "private-use", "U+E000"),
    ("alice\U00050000", "unassigned", "U+50000"),  # plane 5 holds nothing yet
    ("x\u00b7y", "here", "U+00B7"),  # a middle dot belongs between two l's only
]


def assert_refused(response, field: str, words: str, code_point: str):
    """A 400 whose detail names the field, the kind of character in words, and the character."""
    detail = assert_problem(response, 400)["detail"]
    assert detail.startswith(f"'{field}' must not contain "), detail
    assert words in detail
    assert detail.endswith(f" ({code_point}).")


@PREPARES
@pytest.mark.parametrize(
    "username, words, code_point",
    REFUSED_USERNAMES,
    ids=[ascii(username) for username, _, _ in REFUSED_USERNAMES],
)
def test_a_username_the_profile_refuses_is_400_naming_the_character(
    client, app, step, spy, username, words, code_point
):
    assert_refused(register(client, username=username), "username", words, code_point)
    assert_count("users stored", user_count(app, step), 0)
    assert_count("passwords hashed", len(spy.hashed), 0)


# (username, words of the detail): the project's rules on top of the profile, and the
# profile's one rule about the whole name, which names no single character.
REFUSED_WHOLE_USERNAMES = [
    # Width mapping turns the fullwidth colon into ":", which Basic credentials cannot hold.
    ("alice\uff1aadmin", "'username' must not contain a colon."),
    ("e\u0301" * 33, "'username' must be 1 to 32 characters long."),  # 33 characters in NFC
    ("abc\u05d0", "right-to-left"),  # the Bidi Rule of RFC 5893
]


@PREPARES
@pytest.mark.parametrize(
    "username, words",
    REFUSED_WHOLE_USERNAMES,
    ids=[ascii(username)[:24] for username, _ in REFUSED_WHOLE_USERNAMES],
)
def test_a_username_breaking_a_rule_of_the_whole_name_is_400(
    client, app, step, spy, username, words
):
    detail = assert_problem(register(client, username=username), 400)["detail"]
    assert detail.startswith("'username' ")
    assert words in detail
    assert "U+" not in detail  # no one character is to blame
    assert_count("users stored", user_count(app, step), 0)
    assert_count("passwords hashed", len(spy.hashed), 0)


# (password, words, code point): what the OpaqueString profile refuses.
REFUSED_PASSWORDS = [
    (PASSPHRASE + "\t", "control", "U+0009"),
    ("correct\thorse\tbattery", "control", "U+0009"),
    (PASSPHRASE + "\n", "control", "U+000A"),
    (PASSPHRASE + "\x7f", "control", "U+007F"),  # delete
    ("I \u2764\ufe0f " + PASSPHRASE, "invisible", "U+FE0F"),  # a heart with its selector
    ("correct\u200bhorse-battery", "invisible", "U+200B"),
    ("correct\u00adhorse-battery", "invisible", "U+00AD"),
    ("\u202e" + PASSPHRASE, "invisible", "U+202E"),  # right-to-left override
    ("\U0001f469\u200d\U0001f4bb " + PASSPHRASE, "joiner", "U+200D"),  # woman technologist
    ("\U0001f468\u200d\U0001f469\u200d\U0001f467 " + PASSPHRASE, "joiner", "U+200D"),  # family
    (PASSPHRASE + "\u2028", "line separators", "U+2028"),
    (PASSPHRASE + "\U00050000", "unassigned", "U+50000"),
]


@PREPARES
@pytest.mark.parametrize(
    "password, words, code_point",
    REFUSED_PASSWORDS,
    ids=[ascii(password.replace(PASSPHRASE, "...")) for password, _, _ in REFUSED_PASSWORDS],
)
def test_a_password_the_profile_refuses_is_400_naming_the_character(
    client, app, step, spy, password, words, code_point
):
    assert_refused(register(client, password=password), "password", words, code_point)
    assert_count("users stored", user_count(app, step), 0)
    assert_count("passwords hashed", len(spy.hashed), 0)


def test_a_password_is_counted_once_prepared(client, app, step, spy):
    # 28 code points, but 14 characters once NFC joins each u with its diaeresis.
    body = assert_problem(register(client, password="u\u0308" * 14), 400)
    assert body["detail"] == "'password' must be 15 to 128 characters long."
    assert_count("passwords hashed", len(spy.hashed), 0)


@STORES
@pytest.mark.parametrize(
    "username",
    [
        "a",
        "a" * 32,
        "jürgen",
        "Zoë",
        "名前",
        "o'brien",
        "alice.smith@example.com",
        "é" * 32,
        "Алиса",
        "العربية",
        "l·l",
    ],
)
def test_valid_usernames_are_accepted(client, username):
    response = register(client, username=username)
    assert response.status_code == 201
    assert response.get_json()["username"] == username


# (as sent, as stored): the profile maps these, it does not refuse them.
PREPARED_USERNAMES = [
    ("ａｌｉｃｅ", "alice"),  # fullwidth letters
    ("Ａｌｉｃｅ", "Alice"),  # ...whose case is kept
    ("ｱﾘｽ", "アリス"),  # halfwidth katakana
    ("\u212aelvin", "Kelvin"),  # the Kelvin sign, which NFC makes a K
    ("e\u0301" * 32, "é" * 32),  # 64 code points, 32 characters once prepared
]


@STORES
@pytest.mark.parametrize(
    "sent, stored", PREPARED_USERNAMES, ids=[ascii(s)[:24] for s, _ in PREPARED_USERNAMES]
)
def test_usernames_are_stored_as_the_profile_prepares_them(client, app, step, sent, stored):
    response = register(client, username=sent)
    assert response.status_code == 201
    assert response.get_json()["username"] == stored
    with app.app_context():
        assert step.db.session.scalar(step.db.select(step.User.username)) == stored


@STORES
@pytest.mark.parametrize(
    "sent, stored", PREPARED_USERNAMES, ids=[ascii(s)[:24] for s, _ in PREPARED_USERNAMES]
)
def test_a_name_the_profile_prepares_into_a_taken_one_is_409(client, app, step, sent, stored):
    assert register(client, username=stored).status_code == 201
    body = assert_problem(register(client, username=sent), 409)
    assert body["detail"] == f"The username '{stored}' is already taken."
    assert_count("users stored", user_count(app, step), 1)


def test_the_plain_name_after_its_fullwidth_spelling_is_409(client, app, step):
    assert register(client, username="ａｌｉｃｅ").status_code == 201
    assert_problem(register(client, username="alice"), 409)
    assert_count("users stored", user_count(app, step), 1)


def test_a_ligature_is_refused_not_mapped_so_it_is_no_second_user(client, app, step):
    # Width mapping is all the profile maps: the ligature would need NFKC, so the
    # IdentifierClass refuses it (400) instead of turning it into "fi" (which would be 409).
    assert register(client, username="fisher").status_code == 201
    body = assert_problem(register(client, username="ﬁsher"), 400)
    assert "U+FB01" in body["detail"]
    assert_count("users stored", user_count(app, step), 1)


# The shortest and the longest allowed, then others as OpaqueString keeps them. Each passes
# step 8's rules too: none is a common password ("x" * 15 is one).
VALID_PASSWORDS = [
    "fifteen-letters",
    "x" * 128,
    "pässwörd-ünïcode-1",
    "  spaces around it  ",
    "🔑" * 15,
]


@STORES
@pytest.mark.parametrize("password", VALID_PASSWORDS)
def test_valid_passwords_are_stored_unchanged(client, app, step, password):
    # Each is already as OpaqueString prepares it (NFC, ASCII spaces): nothing changes.
    assert register(client, password=password).status_code == 201
    with app.app_context():
        user = step.db.session.scalar(step.db.select(step.User))
        assert user.verify_password(password)
        assert not user.verify_password(password.strip() + "!")


def stored_password_is(app, step, prepared: str, sent: str) -> bool:
    """Whether the stored hash is of the prepared password, and not of what was sent."""
    with app.app_context():
        user = step.db.session.scalar(step.db.select(step.User))
        return user.verify_password(prepared) and not user.verify_password(sent)


def test_passwords_are_normalized_to_nfc(client, app, step):
    composed = "pässwörd-ünïcode-1"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    assert register(client, password=decomposed).status_code == 201
    assert stored_password_is(app, step, prepared=composed, sent=decomposed)


@STORES
@pytest.mark.parametrize("space", ["\u00a0", "\u2003", "\u3000", "\u202f", "\u205f", "\u1680"])
def test_other_spaces_in_passwords_become_ascii_spaces(client, app, step, space):
    sent = f"correct{space}horse{space}battery"
    assert register(client, password=sent).status_code == 201
    assert stored_password_is(app, step, prepared="correct horse battery", sent=sent)


def test_a_long_password_is_counted_once_prepared_and_never_cut(client, app, step):
    # 256 code points sent, 128 characters once prepared: within the limit, and all kept.
    assert register(client, password="u\u0308" * 128).status_code == 201
    with app.app_context():
        user = step.db.session.scalar(step.db.select(step.User))
        assert user.verify_password("ü" * 128)
        assert not user.verify_password("ü" * 127)  # every character counts


def test_taken_username_is_409(client, app, step):
    assert register(client).status_code == 201
    body = assert_problem(register(client, password="another-long-passphrase"), 409)
    assert "alice" in body["detail"]
    assert_count("users stored", user_count(app, step), 1)


def test_a_name_differing_only_by_normalization_is_taken(client, app, step):
    composed = unicodedata.normalize("NFC", "jürgen")
    decomposed = unicodedata.normalize("NFD", "jürgen")
    assert composed != decomposed
    response = register(client, username=decomposed)
    assert response.status_code == 201
    assert response.get_json()["username"] == composed  # stored in NFC
    assert_problem(register(client, username=composed), 409)
    assert_count("users stored", user_count(app, step), 1)


def test_usernames_are_case_sensitive(client):
    assert register(client, username="alice").status_code == 201
    assert register(client, username="Alice").status_code == 201


def test_a_taken_name_is_refused_before_hashing(client, spy):
    register(client)
    spy.hashed.clear()
    assert_problem(register(client), 409)
    assert_count("passwords hashed", len(spy.hashed), 0)


class RacedHashing:
    """A PassLib context that, while it hashes, lets another client store the same name:
    the slow hash is where two registrations race, whatever code calls it."""

    def __init__(self, context, url: str, username: str):
        self.context, self.url, self.username = context, url, username

    def hash(self, password):
        hashed = self.context.hash(password)
        engine = create_engine(self.url)
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO users (username, password_hash) VALUES (:u, 'x')"),
                {"u": self.username},
            )
        engine.dispose()
        return hashed

    def verify(self, password, stored_hash):
        return self.context.verify(password, stored_hash)


def test_the_unique_constraint_turns_a_lost_race_into_409(client, app, step, monkeypatch):
    """Another request stores the same name between our check and our commit."""
    cheap = step.pwd_context
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    step.replace(monkeypatch, "pwd_context", RacedHashing(cheap, url, "alice"))
    body = assert_problem(register(client), 409)
    assert "already taken" in body["detail"]
    assert_count("users stored", user_count(app, step), 1)
    # The session was rolled back: the app keeps working.
    step.replace(monkeypatch, "pwd_context", cheap)
    assert register(client, username="bob").status_code == 201


def test_a_locked_database_is_503_and_stores_nothing(client, app, step, short_busy_timeout):
    # The write lock of another connection, such as an open `make shell` transaction.
    with sqlite_lock(app.config["SQLALCHEMY_DATABASE_URI"]):
        response = register(client)
    assert_problem(response, 503)
    assert int(response.headers["Retry-After"]) > 0
    assert_count("users stored", user_count(app, step), 0)
    assert register(client).status_code == 201  # the same app, once the lock is gone


def test_a_failed_insert_logs_no_password_and_no_hash(client, app, step, caplog):
    """A database error's message names its statement, but never the values bound to it."""
    with app.app_context(), step.db.engine.begin() as connection:
        if connection.dialect.name == "sqlite":  # its triggers resolve table names on use
            connection.execute(
                text(
                    "CREATE TRIGGER broken BEFORE INSERT ON users "
                    "BEGIN INSERT INTO no_such_table VALUES (1); END"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE OR REPLACE FUNCTION broken() RETURNS trigger LANGUAGE plpgsql "
                    "AS $$ BEGIN RAISE EXCEPTION 'broken'; END $$"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER broken BEFORE INSERT ON users "
                    "FOR EACH ROW EXECUTE FUNCTION broken()"
                )
            )
    app.testing = False  # let Flask handle the exception as in production
    response = register(client)
    assert_problem(response, 500)
    assert "INSERT INTO users" in caplog.text  # the statement is logged, for the developer
    for prefix in HASH_PREFIXES:  # but not the hash bound to it
        assert prefix not in caplog.text
    assert PASSPHRASE not in caplog.text
    assert_count("users stored", user_count(app, step), 0)
