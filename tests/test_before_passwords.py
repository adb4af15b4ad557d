"""What step 8 changes, as steps 2 to 7 have it: sha512_crypt hashes. Step 8's own tests
(test_step8_passwords.py) state the new contract: argon2id, and sha512_crypt deprecated."""

import pytest

from tests.helpers import PASSPHRASE, steps_from


@pytest.mark.unit_of("models.py:User")
@pytest.mark.parametrize("step", steps_from(2, until=7), indirect=True)
def test_hash_is_sha512_crypt(step, app):
    user = step.User(username="alice")
    user.hash_password(PASSPHRASE)
    assert user.password_hash.startswith("$6$")
