"""Each step's OpenAPI description (its openapi.yaml) says what the step does: no less, no more.

test_openapi_live.py runs schemathesis against a live server of each step, with the requests
it generates from the description. Some answers no generated request reaches: a body over the
limit, a coding the server refuses, a locked database. Here one request for each status that
each operation can give is sent to the step's app, and the description must list that
status, its media type and the headers that come with it.
"""

import difflib
import functools
import json
import re

import pytest
import schemathesis
from openapi_spec_validator import validate
from schemathesis.specs.openapi import checks

from exercises.workshop import load_steps
from steps import STEPS
from tests.descriptions import description, operations, resolve
from tests.helpers import PASSPHRASE, basic_auth, sqlite_lock, steps_from
from tests.live import ROOT


@pytest.mark.parametrize("step_name", steps_from(1))
def test_each_description_is_valid_openapi_3_1_served_from_the_root(step_name):
    document = description(step_name)
    validate(document)  # raises, naming the first place that breaks the OpenAPI 3.1 schema
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "/"}]


@pytest.mark.parametrize("step_name", steps_from(1))
def test_each_description_says_what_unlisted_paths_and_methods_answer(step_name):
    prose = " ".join(description(step_name)["info"]["description"].split())
    assert "A path under `/api/` that is not listed here answers 404" in prose
    assert "a method that a path does not list answers 405 with an `Allow` header" in prose


@pytest.mark.parametrize("step_name", steps_from(1))
def test_every_operation_says_which_schemes_it_takes(step_name):
    """An open operation says `security: []`: one that leaves `security` out would take a
    top-level `security`, if the description ever got one (OpenAPI 3.1 §4.8.10)."""
    document = description(step_name)
    assert "security" not in document
    schemes = document.get("components", {}).get("securitySchemes", {})
    for label, operation in operations(document).items():
        assert "security" in operation, f"{label} does not say which schemes it takes"
        named = [name for requirement in operation["security"] for name in requirement]
        assert set(named) <= set(schemes), label


# What a step's description may drop of the one before, besides its title and introduction:
# the manifest's `removes_lines` of openapi.yaml.
ALSO_REMOVED = {
    entry["folder"]: [
        line.removeprefix("openapi.yaml: ")
        for line in entry.get("removes_lines", [])
        if line.startswith("openapi.yaml: ")
    ]
    for entry in load_steps()
}


@pytest.mark.parametrize(
    "before, after",
    [pytest.param(*pair, id=pair[1]) for pair in zip(STEPS, STEPS[1:], strict=False)],
)
def test_a_description_keeps_every_line_of_the_one_before_but_its_introduction(before, after):
    """So that `make diff STEP=n` shows what the step adds to its API, and little else."""
    old = (ROOT / before / "openapi.yaml").read_text(encoding="utf-8").splitlines()
    new = (ROOT / after / "openapi.yaml").read_text(encoding="utf-8").splitlines()
    introduction = description(before)["info"]["description"].split("\n\n")[0].splitlines()
    removed = [line[2:].strip() for line in difflib.ndiff(old, new) if line.startswith("- ")]
    others = [line for line in removed if not line.startswith("title:")]
    others = [line for line in others if line not in introduction]
    assert others == ALSO_REMOVED.get(after, []), "\n".join(others)


def openapi_path(rule: str) -> str:
    """Flask's rule /api/users/<int(max=2147483647):id> is OpenAPI's path /api/users/{id}."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


@pytest.mark.parametrize("step", steps_from(1), indirect=True)
def test_each_description_lists_exactly_the_routes_of_its_step(app, step):
    routes = {
        f"{method} {openapi_path(rule.rule)}"
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"  # Flask's route for a static/ folder, which no step has
        for method in rule.methods - {"HEAD", "OPTIONS"}  # Flask answers these for any route
    }
    assert set(operations(description(step.name))) == routes


JSON = "application/json"
ALICE = basic_auth("alice", PASSPHRASE)
WRONG = basic_auth("alice", "wrong-" + PASSPHRASE)
BOB = json.dumps({"username": "bob", "password": PASSPHRASE})
TAKEN = json.dumps({"username": "alice", "password": PASSPHRASE})
NEW_PASSWORD = {"current_password": PASSPHRASE, "new_password": "wrong-" + PASSPHRASE[8:]}
CHANGE = {"data": json.dumps(NEW_PASSWORD), "content_type": JSON}
PAD = " " * 16 * 1024 + json.dumps(NEW_PASSWORD)

# One request for each status that each operation can answer, from the first step that has
# the operation on: the path's parameters ("id"), what to send, and what else to do. Alice is
# registered before each; "token" sends one of hers as a bearer token, "locked" sends the
# request while another connection holds the database.
ANSWERS = [
    (1, "GET /api/users/{id}", 200, {"id": 1}),
    (1, "GET /api/users/{id}", 404, {"id": 2}),
    (1, "GET /api/users/{id}", 503, {"id": 1, "locked": True}),
    (3, "POST /api/users", 201, {"data": BOB, "content_type": JSON}),
    (3, "POST /api/users", 400, {"data": "{", "content_type": JSON}),
    (3, "POST /api/users", 409, {"data": TAKEN, "content_type": JSON}),
    (3, "POST /api/users", 413, {"data": " " * 16 * 1024 + BOB, "content_type": JSON}),
    (3, "POST /api/users", 415, {"data": BOB, "content_type": "text/plain"}),
    (3, "POST /api/users", 415, {"data": BOB, "content_type": JSON, "coding": "gzip"}),
    (3, "POST /api/users", 501, {"data": BOB, "content_type": JSON, "te": "gzip, chunked"}),
    (3, "POST /api/users", 503, {"data": BOB, "content_type": JSON, "locked": True}),
    (4, "GET /api/resource", 200, {"headers": ALICE}),
    (4, "GET /api/resource", 401, {}),
    (4, "GET /api/resource", 503, {"headers": ALICE, "locked": True}),
    (5, "POST /api/tokens", 200, {"headers": ALICE}),
    (5, "POST /api/tokens", 401, {}),
    (5, "POST /api/tokens", 503, {"headers": ALICE, "locked": True}),
    (5, "DELETE /api/tokens", 204, {"token": True}),
    (5, "DELETE /api/tokens", 401, {"headers": {"Authorization": "Bearer fra_unknown"}}),
    (5, "DELETE /api/tokens", 503, {"token": True, "locked": True}),
    # Step 6's limits, each set to 1 so that the second request is over it.
    (6, "POST /api/users", 429, {"data": BOB, "content_type": JSON, "limit": "REGISTRATIONS"}),
    (6, "POST /api/tokens", 429, {"headers": WRONG, "limit": "FAILED_LOGINS"}),
    (6, "GET /api/resource", 429, {"headers": WRONG, "limit": "FAILED_LOGINS"}),
    # Step 7's rules: "admin" makes alice an admin first, with the app's own command.
    (7, "GET /api/users", 200, {"headers": ALICE, "admin": True}),
    (7, "GET /api/users", 400, {"headers": ALICE, "admin": True, "query": "per_page=0"}),
    (7, "GET /api/users", 401, {}),
    (7, "GET /api/users", 403, {"headers": ALICE}),
    (7, "GET /api/users", 429, {"headers": WRONG, "limit": "FAILED_LOGINS"}),
    (7, "GET /api/users", 503, {"headers": ALICE, "admin": True, "locked": True}),
    (7, "DELETE /api/users/{id}", 204, {"id": 1, "headers": ALICE}),
    (7, "DELETE /api/users/{id}", 401, {"id": 1}),
    (7, "DELETE /api/users/{id}", 403, {"id": 2, "headers": ALICE}),
    (7, "DELETE /api/users/{id}", 404, {"id": 2, "headers": ALICE, "admin": True}),
    (7, "DELETE /api/users/{id}", 429, {"id": 1, "headers": WRONG, "limit": "FAILED_LOGINS"}),
    (7, "DELETE /api/users/{id}", 503, {"id": 1, "headers": ALICE, "locked": True}),
    # Step 8's change of alice's password (CHANGE), or another body.
    (8, "PUT /api/users/{id}/password", 204, {"id": 1, "headers": ALICE, **CHANGE}),
    (8, "PUT /api/users/{id}/password", 400, {"id": 1, "headers": ALICE, **CHANGE, "data": "[]"}),
    (8, "PUT /api/users/{id}/password", 401, {"id": 1, **CHANGE}),
    (8, "PUT /api/users/{id}/password", 403, {"id": 2, "headers": ALICE, **CHANGE}),
    (8, "PUT /api/users/{id}/password", 404, {"id": "me", "headers": ALICE, **CHANGE}),
    (8, "PUT /api/users/{id}/password", 413, {"id": 1, "headers": ALICE, **CHANGE, "data": PAD}),
    (
        8,
        "PUT /api/users/{id}/password",
        415,
        {"id": 1, "headers": ALICE, **CHANGE, "coding": "br"},
    ),
    (
        8,
        "PUT /api/users/{id}/password",
        429,
        {"id": 1, "headers": WRONG, "limit": "FAILED_LOGINS"},
    ),
    (8, "PUT /api/users/{id}/password", 501, {"id": 1, "headers": ALICE, **CHANGE, "te": "gzip"}),
    (
        8,
        "PUT /api/users/{id}/password",
        503,
        {"id": 1, "headers": ALICE, **CHANGE, "locked": True},
    ),
]

# The headers that tell a client something it must act on; when an answer has one, its
# description must list it.
MEANINGFUL = {"Location", "WWW-Authenticate", "Retry-After", "Cache-Control", "Accept-Encoding"}


def answers():
    for first, label, status, request in ANSWERS:
        for param in steps_from(first):
            name = param.values[0]
            marks = [*param.marks, *([pytest.mark.limits] if "limit" in request else [])]
            yield pytest.param(
                name, label, status, request, id=f"{name}-{label}-{status}", marks=marks
            )


@functools.cache
def schema(step_name: str):
    return schemathesis.openapi.from_dict(description(step_name))


def path_parameters(path: str, request: dict) -> dict:
    return {name: request[name] for name in re.findall(r"{(\w+)}", path)}


def send(client, label: str, request: dict, database_url: str):
    method, path = label.split(" ")
    parameters = path_parameters(path, request)
    options = {k: v for k, v in request.items() if k in ("headers", "data", "content_type")}
    options["query_string"] = request.get("query")
    options["path"] = path.format(**parameters)
    headers = options["headers"] = dict(options.get("headers", {}))
    if request.get("token"):
        token = client.post("/api/tokens", headers=ALICE).get_json()["access_token"]
        headers["Authorization"] = f"Bearer {token}"
    if request.get("admin"):
        client.application.test_cli_runner().invoke(args=["admin", "grant", "alice"])
    if "coding" in request:
        headers["Content-Encoding"] = request["coding"]
    if "te" in request:
        headers["Transfer-Encoding"] = request["te"]
    if "limit" in request:  # one request within the limit, then the one over it
        client.application.config[f"{request['limit']}_PER_ADDRESS"] = "1 per hour"
        client.open(method=method, **options)
    if not request.get("locked"):
        return client.open(method=method, **options)
    with sqlite_lock(database_url, "EXCLUSIVE"):
        return client.open(method=method, **options)


@pytest.mark.parametrize("step, label, status, request_", list(answers()), indirect=["step"])
def test_each_status_a_step_gives_is_in_its_description(
    step, app, client, add_user, request, label, status, request_
):
    if request_.get("locked"):
        request.getfixturevalue("short_busy_timeout")  # a locked SQLite fails in 0.1 s
    add_user("alice")
    response = send(client, label, request_, app.config["SQLALCHEMY_DATABASE_URI"])
    assert response.status_code == status, response.get_data(as_text=True)

    document = description(step.name)
    method, path = label.split(" ")
    listed = document["paths"][path][method.lower()]["responses"]
    assert str(status) in listed, f"{label} does not list {status}"
    described = resolve(document, listed[str(status)])
    if response.content_length:
        media_type = described.get("content", {}).get(response.mimetype)
        assert media_type is not None, f"{label} {status} does not list {response.mimetype}"
        if "example" in media_type and response.mimetype == "application/problem+json":
            example, body = media_type["example"], response.get_json()
            assert (example["title"], example["status"]) == (body["title"], body["status"])
    headers = {name.lower() for name in described.get("headers", {})}
    for name in MEANINGFUL & set(response.headers.keys()):
        assert name.lower() in headers, f"{label} {status} does not describe {name}"

    # What schemathesis checks on every answer it gets in the live run: the status, the
    # media type, the described headers and the body against their schemas.
    case = schema(step.name)[path][method].Case(path_parameters=path_parameters(path, request_))
    case.validate_response(
        response,
        checks=[
            checks.status_code_conformance,
            checks.content_type_conformance,
            checks.response_headers_conformance,
            checks.response_schema_conformance,
        ],
    )


@pytest.mark.parametrize("step_name", steps_from(1))
def test_each_status_in_a_description_has_its_request_above(step_name):
    number = STEPS.index(step_name) + 1
    listed = {
        (label, int(status))
        for label, operation in operations(description(step_name)).items()
        for status in operation["responses"]
    }
    tabled = {(label, status) for first, label, status, _ in ANSWERS if first <= number}
    assert listed == tabled
