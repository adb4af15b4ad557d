"""Step 2: User.hash_password and User.verify_password with PassLib.

These tests run against step 2 and every later step. Most hash cheaply (see
tests/hashing.py); the `real_cost` ones use PassLib's default.
"""

import pytest

from tests.helpers import PASSPHRASE, assert_default_cost, steps_from

pytestmark = pytest.mark.parametrize("step", steps_from(2), indirect=True)


@pytest.mark.unit_of("models.py:User")
def test_hash_is_not_the_password(step, app):
    # Which scheme made it: test_before_passwords.py (step 8 hashes with argon2id).
    user = step.User(username="alice")
    user.hash_password(PASSPHRASE)
    assert PASSPHRASE not in user.password_hash


@pytest.mark.real_cost
def test_hash_uses_the_contexts_default_cost_and_fits_the_column(step, app):
    user = step.User(username="alice")
    user.hash_password(PASSPHRASE)
    # The step's own context: PassLib's custom_app_context (sha512_crypt) up to step 7.
    assert_default_cost(step.pwd_context, user.password_hash)
    assert len(user.password_hash) <= step.User.password_hash.type.length
    assert user.verify_password(PASSPHRASE)


@pytest.mark.unit_of("models.py:User")
def test_same_password_hashed_twice_differs_by_its_salt(step, app):
    first, second = step.User(username="a"), step.User(username="b")
    first.hash_password(PASSPHRASE)
    second.hash_password(PASSPHRASE)
    assert first.password_hash != second.password_hash


@pytest.mark.unit_of("models.py:User")
@pytest.mark.parametrize(
    "attempt",
    [
        PASSPHRASE.upper(),
        PASSPHRASE + " ",
        PASSPHRASE[:-1],
        "",
    ],
)
def test_verify_password_refuses_anything_but_the_password(step, app, attempt):
    user = step.User(username="alice")
    user.hash_password(PASSPHRASE)
    assert user.verify_password(PASSPHRASE)
    assert not user.verify_password(attempt)


@pytest.mark.unit_of("models.py:User")
def test_stored_hash_verifies_after_a_round_trip(step, app, add_user):
    user_id = add_user("alice", PASSPHRASE)
    with app.app_context():
        user = step.db.session.get(step.User, user_id)
        assert user.verify_password(PASSPHRASE)
        assert not user.verify_password("wrong-horse-battery-staple")


def test_api_never_returns_the_hash(step, app, client, add_user):
    user_id = add_user("alice", PASSPHRASE)
    with app.app_context():
        stored_hash = step.db.session.get(step.User, user_id).password_hash
    body = client.get(f"/api/users/{user_id}").get_data(as_text=True)
    assert stored_hash not in body
    assert PASSPHRASE not in body
