"""What step 7 changes, as steps 1 to 6 have it: the users table without roles, no
GET /api/users and no DELETE /api/users/<id>, and registration bodies with any other members.
Step 7's own tests (test_step7_authorization.py) state the new contract."""

import json

import pytest
from sqlalchemy import inspect

from tests.helpers import PASSPHRASE, assert_problem, steps_from


@pytest.mark.parametrize("step", steps_from(1, until=6), indirect=True)
def test_the_users_table_has_these_columns(app, step):
    with app.app_context():
        columns = inspect(step.db.engine).get_columns("users")
    assert {column["name"] for column in columns} == {"id", "username", "password_hash"}


@pytest.mark.parametrize("step", steps_from(1, until=6), indirect=True)
def test_wrong_method_is_405_problem_with_allow_header(client):
    response = client.delete("/api/users/1")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("step", steps_from(3, until=6), indirect=True)
def test_get_on_the_collection_is_405_with_allow_header(client):
    response = client.get("/api/users")
    assert_problem(response, 405)
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize("step", steps_from(3, until=6), indirect=True)
def test_a_body_just_under_the_limit_is_accepted(client):
    body = {"username": "alice", "password": PASSPHRASE, "padding": "x" * 15 * 1024}
    response = client.post("/api/users", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 201
