"""Steps 1 and 2 have no way to register: POST /api/users is not a route yet."""

import pytest

from tests.helpers import assert_problem, steps_from

pytestmark = pytest.mark.parametrize("step", steps_from(1)[:2], indirect=True)


def test_post_users_is_not_a_route_yet(client):
    response = client.post("/api/users", json={"username": "alice", "password": "x" * 15})
    assert_problem(response, 404)
