"""Where a password could leak from a live server of step 4: responses, logs, the database.

One server gets every kind of request that carries the password (registration, a taken
name, a refused name, right and wrong credentials, an unknown user), then stops; the
tests then look for the password in everything the server produced.
"""

import base64
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from sqlalchemy.engine import make_url

from tests.helpers import basic_auth, register_live, stored_users

pytestmark = [
    pytest.mark.live,
    pytest.mark.step4,
    pytest.mark.parametrize(
        "shared_live_server", [pytest.param(4, id="step4")], indirect=True, scope="module"
    ),
]

SECRET = "plum-orbit-lantern-quiet-9431"  # appears nowhere else, so a find is a leak


@pytest.fixture(scope="module")
def responses(shared_live_server):
    """Every request a client makes with the secret password; their responses."""
    server = shared_live_server
    responses = [register_live(server, "keeper", SECRET)]
    location = urljoin(responses[0].url, responses[0].headers["Location"])  # a relative reference
    responses.append(requests.get(location, timeout=60))
    for username, password in [("keeper", SECRET), ("keeper", "x" + SECRET), ("nobody", SECRET)]:
        headers = basic_auth(username, password)
        responses.append(requests.get(f"{server.url}/api/resource", headers=headers, timeout=60))
    responses.append(register_live(server, "keeper", SECRET))
    responses.append(register_live(server, "keeper:2", SECRET))
    assert [response.status_code for response in responses] == [201, 200, 200, 401, 401, 409, 400]
    server.stop()  # so that the log and the database files are complete
    return responses


@pytest.fixture(scope="module")
def stored_hash(shared_live_server, responses):
    return stored_users(shared_live_server.database_url)["keeper"]


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
