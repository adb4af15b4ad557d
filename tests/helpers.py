"""Helpers for the test modules: which steps a test runs against, and common checks."""

import base64

import pytest

STEPS = ("step1_models", "step2_hashing", "step3_registration", "step4_auth")
PASSPHRASE = "correct-horse-battery-staple"


def steps_from(first: int) -> list:
    return [
        pytest.param(name, id=name, marks=getattr(pytest.mark, f"step{number}"))
        for number, name in enumerate(STEPS, start=1)
        if number >= first
    ]


def basic_auth(username: str, password: str) -> dict[str, str]:
    """The Authorization header a client sends, built by hand (RFC 7617)."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def assert_problem(response, status):
    """An RFC 9457 problem: the right media type, title, integer status and a detail."""
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


class HashSpy:
    """Wraps a PassLib context and counts the hashes and verifications it does."""

    def __init__(self, context):
        self.context, self.hashed, self.verified = context, [], []

    def hash(self, password):
        self.hashed.append(password)
        return self.context.hash(password)

    def verify(self, password, stored_hash):
        self.verified.append(stored_hash)
        return self.context.verify(password, stored_hash)
