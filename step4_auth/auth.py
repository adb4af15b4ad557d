"""Who is calling: a username and password, with HTTP Basic authentication (RFC 7617)."""

import functools

from passlib.apps import custom_app_context as pwd_context
from werkzeug.exceptions import BadRequest, Unauthorized

from .credentials import prepare_credentials
from .errors import problem
from .headers import StrictBasicAuth
from .models import User, db

auth = StrictBasicAuth(realm="Flask REST auth tutorial")


@functools.cache  # made once, by the first unknown name: a hash costs about a second
def dummy_hash() -> str:
    """A hash of nobody's password, by the context that hashes the users' passwords.

    Verified when the username is unknown, so that such a request costs as much as a
    wrong password and response times do not reveal which usernames exist.
    """
    return pwd_context.hash("a password that belongs to nobody")


@auth.verify_password
def verify_password(username: str, password: str) -> User | None:
    # Flask-HTTPAuth also calls this with two empty strings when the request
    # has no credentials; those fail the checks below like any bad input.
    try:
        username, password = prepare_credentials(username, password)
    except BadRequest:
        return None  # registration refuses these, so no user can match
    user = db.session.scalar(db.select(User).filter_by(username=username))
    if user is None:
        pwd_context.verify(password, dummy_hash())
        return None
    return user if user.verify_password(password) else None


@auth.error_handler
def auth_error(status: int):
    return problem(
        Unauthorized("Send a valid username and password with HTTP Basic authentication.")
    )
