"""Schemathesis tries each step's description against a live server of that step.

It sends the examples that the description gives, requests built to reach each of its
limits (and methods that no path lists), then requests generated at random, some that fit
the description and some that do not; every answer must be one the description allows.
The checks are exactly these: no 5xx, a described status, media type, headers and body, 405
with an Allow header for a method no path lists, an OPTIONS Allow header that names the
described methods, and a 401 for every protected operation called without credentials or
with wrong ones. Two checks stay off: whether the server accepts what fits the schema and
refuses what does not. A JSON Schema cannot hold RFC 8265's rules, and a length is counted
after NFC, so a server that is right disagrees with both.

`make test` runs a few derandomized examples per operation; `make test-api` runs many
(pytest's --api-examples).
"""

import collections
import itertools

import pytest
import requests
import schemathesis
from schemathesis.engine import Status, events, from_schema
from sqlalchemy import create_engine, inspect, text

from steps import numbers_from
from tests.descriptions import operations, security_schemes
from tests.hashing import cheap_context
from tests.helpers import PASSPHRASE, basic_auth, live_steps

pytestmark = pytest.mark.live

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "unsupported_method",
    "allow_header_conformance",
    "ignored_auth",
]
USER = "schemathesis"  # stored before the run, so that alice stays free for the examples
NUMBERS = itertools.count(1)
# The calls that end the credentials they are sent with: deleting an account (step 7), and
# changing its password (step 8), which also ends every token of the user.
ENDS_ITS_CREDENTIALS = {"DELETE /api/users/{id}", "PUT /api/users/{id}/password"}
REVOKES_ITS_TOKEN = "DELETE /api/tokens"


def configuration(examples: int) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "generation": {
                "mode": "all",  # requests that fit the description, and requests that do not
                "max-examples": examples,
                "deterministic": True,
                "database": "none",
            },
            "phases": {"stateful": {"enabled": False}},
        }
    )


def credentials_for(server):
    """An auth provider: the first scheme that the operation's `security` lists, for USER
    (an admin from step 7 on), or for a new user who deletes their own account or changes
    their own password. USER's token is issued once, and a new one for each request that
    revokes the token it is sent (DELETE /api/tokens)."""
    tokens = {}

    def token_of(username: str) -> str:
        issued = requests.post(
            f"{server.url}/api/tokens", headers=basic_auth(username, PASSPHRASE), timeout=10
        )
        return issued.json()["access_token"]

    class Credentials:
        def get(self, case, context):
            schemes = security_schemes(case.operation.definition.raw)
            if not schemes:
                return None
            username, user_id = USER, None
            if case.operation.label in ENDS_ITS_CREDENTIALS:
                username = f"fresh-{next(NUMBERS)}"  # so that USER, its id and password stay
                registered = requests.post(
                    f"{server.url}/api/users",
                    json={"username": username, "password": PASSPHRASE},
                    timeout=10,
                )
                user_id = registered.json()["id"]
            if schemes[0] == "basicAuth":
                return {"headers": basic_auth(username, PASSPHRASE), "id": user_id}
            if username == USER and case.operation.label != REVOKES_ITS_TOKEN:
                if USER not in tokens:
                    tokens[USER] = token_of(USER)
                token = tokens[USER]
            else:  # a new user's, or one that the request revokes
                token = token_of(username)
            return {"headers": {"Authorization": f"Bearer {token}"}, "id": user_id}

        def set(self, case, data, context):
            if data:
                case.headers = {**(case.headers or {}), **data["headers"]}
            # A valid id is the new user's own: a delete or a change of it is a 204. Ids the
            # description refuses stay, to be answered as they are.
            id = (case.path_parameters or {}).get("id")
            if data and data["id"] and isinstance(id, int) and 1 <= id <= 2147483647:
                case.path_parameters["id"] = data["id"]

    return Credentials


def store_user(database_url: str) -> None:
    """Store USER with the id 1, as `make shell` would (steps 1 and 2 cannot register), and
    make it an admin in a step that has roles."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO users (id, username, password_hash) VALUES (1, :name, :hash)"),
            {"name": USER, "hash": cheap_context().hash(PASSPHRASE)},
        )
        if "is_admin" in {column["name"] for column in inspect(connection).get_columns("users")}:
            connection.execute(text("UPDATE users SET is_admin = true WHERE id = 1"))
    engine.dispose()


def run(schema) -> tuple[list[str], dict[str, set[int]]]:
    """Run schemathesis: the failures it reports, and the statuses each operation got."""
    failures, statuses = [], collections.defaultdict(set)
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            method = recorder.label.split(" ")[0]
            for interaction in recorder.interactions.values():
                if interaction.response and interaction.request.method == method:
                    statuses[recorder.label].add(interaction.response.status_code)
            for checks in recorder.checks.values():
                for check in checks:
                    if check.status == Status.FAILURE:
                        info = check.failure_info
                        failures.append(
                            f"{recorder.label}: {check.name}: {info.failure.title}\n"
                            f"{info.failure.message}\n{info.code_sample}"
                        )
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            failures.append(f"{type(event).__name__}: {getattr(event, 'value', None) or event}")
    return failures, statuses


@pytest.mark.parametrize("step", live_steps(*numbers_from(1)))
def test_each_step_answers_as_its_description_says(step, live_server, request):
    # FLASK_RATELIMIT_ENABLED=false: a step with rate limits turns them off; the others
    # ignore a setting they do not have.
    server = live_server(step, env={"FLASK_RATELIMIT_ENABLED": "false"})
    store_user(server.database_url)
    schema = schemathesis.openapi.from_url(
        f"{server.url}/openapi.json", config=configuration(request.config.option.api_examples)
    )
    schema.config.update(base_url=server.url)
    schema.auth(refresh_interval=None)(credentials_for(server))  # get() decides what to reuse

    failures, statuses = run(schema)
    assert not failures, "\n\n".join(failures)
    for label, operation in operations(schema.raw_schema).items():
        described = {int(status) for status in operation["responses"] if status.startswith("2")}
        assert described <= statuses[label], f"{label} got {sorted(statuses[label])}"
