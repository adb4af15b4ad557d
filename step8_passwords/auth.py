"""Who is calling: a username and password (HTTP Basic), or a bearer token (RFC 6750)."""

import functools

from werkzeug.exceptions import BadRequest, Unauthorized

from .credentials import prepare_credentials
from .errors import problem
from .headers import AnyOfAuth, StrictBasicAuth, StrictTokenAuth, auth_scheme
from .limits import limit_failures
from .models import Token, User, db, pwd_context, utc_now

auth = StrictBasicAuth(realm="Flask REST auth tutorial")


@functools.cache  # made once, by the first unknown name: a hash costs about a second
def dummy_hash() -> str:
    """A hash of nobody's password, by the context that hashes the users' passwords.

    Verified when the username is unknown, so that such a request costs as much as a
    wrong password and response times do not reveal which usernames exist.
    """
    return pwd_context.hash("a password that belongs to nobody")


@auth.verify_password
@limit_failures  # a 429 before any hash while the name or the address is limited
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
    return user if user.log_in(password) else None  # which may upgrade its hash


@functools.partial(limit_failures, in_body=True)  # a wrong one counts as a failed login
def verify_current_password(username: str, password: str) -> User | None:
    """The user named `username` if `password` is their password (at a change), else None."""
    try:
        username, password = prepare_credentials(username, password)
    except BadRequest:
        return None  # registration refuses these, so no user can match
    user = db.session.scalar(db.select(User).filter_by(username=username))
    return user if user is not None and user.verify_password(password) else None


@auth.error_handler
def auth_error(status: int):
    return problem(
        Unauthorized("Send a valid username and password with HTTP Basic authentication.")
    )


token_auth = StrictTokenAuth(scheme="Bearer", realm="Flask REST auth tutorial")


@token_auth.verify_token
def verify_token(token: str) -> User | None:
    # Flask-HTTPAuth calls this only when a token was sent. It is looked up by digest,
    # so the time the lookup takes says nothing about which tokens exist.
    digest = Token.digest_of(token)
    query = db.select(User).join(Token).where(Token.digest == digest, Token.expires_at > utc_now())
    return db.session.scalar(query)


@token_auth.error_handler
def token_error(status: int):
    response = problem(Unauthorized("Send a valid access token: POST /api/tokens issues one."))
    if auth_scheme() == "bearer":  # an error code only if a token was sent (RFC 6750 §3.1)
        response.headers["WWW-Authenticate"] = (
            'Bearer realm="Flask REST auth tutorial", error="invalid_token", '
            'error_description="The access token is unknown, expired or revoked."'
        )
    return response


token_or_password = AnyOfAuth(token_auth, auth)
