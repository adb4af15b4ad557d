"""Changing a password, with the current one first (OWASP ASVS 5.0.0 V6.2.2 and V6.2.3): the
new one passes the rules of every new password (credentials.py), and every token ends."""

from flask import Blueprint
from werkzeug.exceptions import BadRequest, Forbidden

from .auth import token_or_password, verify_current_password
from .bodies import read_json
from .credentials import check_new_password, prepare
from .permissions import allow, own_account

passwords = Blueprint("passwords", __name__)

FIELDS = ("current_password", "new_password")


@passwords.put("/api/users/<user_id:id>/password")
@token_or_password.login_required
@allow(own_account, "You may change only your own password.")
def change_password(id: int | None):
    user = token_or_password.current_user()
    current, new = read_password_change(user.username)  # 400s cost no hash
    # A 429 while the name or the address is limited; a wrong password counts (limits.py).
    if verify_current_password(user.username, current) is None:
        raise Forbidden("The current password is wrong.")
    if not user.change_password(current, new):  # another change came first
        raise Forbidden("The current password is wrong.")
    # Every token of the user is gone, the one that sent this included: log in again.
    return "", 204


def read_password_change(username: str) -> tuple[str, str]:
    """Return the current password as sent and the new one as RFC 8265 prepares it, once it
    passes the rules; or raise 400 naming the field."""
    data = read_json()
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    others = [repr(name) for name in data if name not in FIELDS]
    if others:
        raise BadRequest(
            "The body may name only 'current_password' and 'new_password',"
            f" not {', '.join(others)}."
        )
    for field in FIELDS:
        if not isinstance(data.get(field), str):
            raise BadRequest(f"'{field}' is required and must be a string.")
    new = prepare("new_password", data["new_password"], "OpaqueString", 15, 128)
    check_new_password("new_password", new, username)
    return data["current_password"], new
