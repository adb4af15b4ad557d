"""Step 5: token authentication, bearer tokens that are cheap to check."""

import hashlib
import json
import os
import secrets
from datetime import UTC, datetime, timedelta
from functools import wraps

from flask import Flask, Request, abort, current_app, jsonify, make_response, request
from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth, MultiAuth
from flask_sqlalchemy import SQLAlchemy
from passlib.apps import custom_app_context as pwd_context
from precis_i18n import get_profile
from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from werkzeug.exceptions import (
    BadRequest,
    Conflict,
    HTTPException,
    RequestEntityTooLarge,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
)


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    # Room for the ~120-character sha512_crypt hashes of step 2, and more.
    password_hash: Mapped[str] = mapped_column(String(255))

    def hash_password(self, password: str) -> None:
        self.password_hash = pwd_context.hash(password)

    def verify_password(self, password: str) -> bool:
        return pwd_context.verify(password, self.password_hash)

    def to_dict(self) -> dict:
        # The one place that decides what a client sees: never the hash.
        return {"id": self.id, "username": self.username}


def utc_now() -> datetime:
    """The app's one clock: the time in UTC, naive like the DateTime columns."""
    return datetime.now(UTC).replace(tzinfo=None)


class Token(db.Model):
    """An access token of a user, stored as its SHA-256 digest and never as itself."""

    __tablename__ = "tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime())
    expires_at: Mapped[datetime] = mapped_column(DateTime(), index=True)

    @staticmethod
    def digest_of(token: str) -> str:
        # Fast on purpose, unlike a password hash: nobody can find 256 random bits from
        # their digest, and a slow hash would cost every request what tokens save.
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, user: User, lifetime: int) -> str:
        """Store a new token for `user`, valid for `lifetime` seconds, and return it."""
        token = "fra_" + secrets.token_urlsafe(32)  # a prefix scanners know, 256 random bits
        row = cls(digest=cls.digest_of(token), user_id=user.id, created_at=utc_now())
        row.expires_at = row.created_at + timedelta(seconds=lifetime)
        db.session.add(row)
        return token


def problem(error: HTTPException):
    """Render an HTTP error as RFC 9457 problem details instead of an HTML page."""
    response = error.get_response()  # keeps headers such as Allow on a 405
    body = jsonify(title=error.name, status=error.code, detail=error.description)
    response.set_data(body.get_data())
    response.content_type = "application/problem+json"
    return response


def database_unavailable(error: OperationalError):
    """Answer 503 with Retry-After (RFC 9110 §15.6.4) while the database cannot serve."""
    # PEP 249 files a refused or lost connection and a busy database under this error.
    # SQLite files mistakes such as "no such column" there too: no retry cures those.
    sqlite_error = getattr(error.orig, "sqlite_errorname", None)  # None: not SQLite
    if sqlite_error and not sqlite_error.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        raise error  # becomes the logged 500 of any unexpected error
    reason = str(error.orig).partition("\n")[0]  # the driver's own words, on one line
    current_app.logger.warning("503, the database is unavailable: %s", reason)
    detail = "The database is busy or unreachable. Try again in a few seconds."
    return problem(ServiceUnavailable(detail, retry_after=5))


# Why precis-i18n refuses a value, in the words a client is told instead of its codes.
REFUSALS = {
    "DISALLOWED/spaces": "must not contain spaces",
    "DISALLOWED/controls": "must not contain control characters",
    "DISALLOWED/precis_ignorable_properties": "must not contain invisible characters",
    "DISALLOWED/zero_width_joiner": "must not contain an invisible joiner here",
    "DISALLOWED/zero_width_nonjoiner": "must not contain an invisible non-joiner here",
    "DISALLOWED/has_compat": "must not contain compatibility forms (ligatures, special spaces)",
    "DISALLOWED/symbols": "must not contain symbols or emoji",
    "DISALLOWED/punctuation": "must not contain punctuation beyond ASCII",
    "DISALLOWED/other": "must not contain surrogates, line separators or private-use characters",
    "DISALLOWED/unassigned": "must not contain code points unassigned in this server's Unicode",
    "DISALLOWED/bidi_rule": "must not mix left-to-right and right-to-left letters (RFC 5893)",
}


def prepare(field: str, value: str, profile: str, shortest: int, longest: int) -> str:
    """Return the value as an RFC 8265 profile prepares it, or raise 400 saying why not."""
    try:
        value = get_profile(profile).enforce(value) if value else value  # "" is refused below
    except UnicodeEncodeError as error:
        words = REFUSALS.get(error.reason, "must not contain this character here")
        if error.end - error.start == 1:  # one character is to blame: name it
            words += f" (U+{ord(error.object[error.start]):04X})"
        raise BadRequest(f"'{field}' {words}.") from None
    if not shortest <= len(value) <= longest:  # counted once prepared, never cut short
        raise BadRequest(f"'{field}' must be {shortest} to {longest} characters long.")
    return value


def prepare_credentials(username: str, password: str) -> tuple[str, str]:
    """Prepare both by RFC 8265 (PRECIS), alike at registration and login, or raise 400."""
    # A name is an identifier, compared as people read it ("ａｌｉｃｅ" is "alice"); a
    # password is free text, in NFC with ASCII spaces, as NIST SP 800-63B asks.
    username = prepare("username", username, "UsernameCasePreserved", 1, 32)
    # HTTP Basic credentials are "username:password", so a colon in a
    # username would make that user unable to log in (RFC 7617).
    if ":" in username:
        raise BadRequest("'username' must not contain a colon.")
    return username, prepare("password", password, "OpaqueString", 15, 128)


INCOMPLETE_BODY = "The body ended before its Content-Length, or its chunked framing is broken."


def read_body() -> bytes:
    """Return the request's body, all of it, or raise 400 or 413.

    The limit is MAX_CONTENT_LENGTH bytes whatever the framing: a Content-Length or
    chunks (RFC 9112 §6).
    """
    limit = request.max_content_length
    try:
        body = request.get_data()
    except RequestEntityTooLarge:  # Werkzeug's, for a Content-Length over the limit
        raise RequestEntityTooLarge(f"The body is over the limit of {limit} bytes.") from None
    except Exception:  # each server has its own error for broken chunks or a lost client
        raise BadRequest(INCOMPLETE_BODY) from None
    if request.content_length is None:
        # Werkzeug stops reading a chunked body at the limit without an error: one that
        # reaches the limit may go on.
        if len(body) >= limit:
            raise RequestEntityTooLarge(f"A chunked body must stay under {limit} bytes.")
    elif len(body) < request.content_length:  # gunicorn passes on what came before the end
        raise BadRequest(INCOMPLETE_BODY)
    return body


def unique_names(pairs: list[tuple[str, object]]) -> dict:
    """Return a JSON object's members as a dict, or raise 400 for a name given twice."""
    members = {}
    for name, value in pairs:
        if name in members:
            raise BadRequest(f"The body gives the name {name!r} twice in one object.")
        members[name] = value
    return members


def refuse_constant(name: str):
    """Raise 400 for NaN, Infinity or -Infinity: Python's parser reads them, JSON has none."""
    raise BadRequest(f"{name} is not a JSON value.")


def read_json():
    """Return the request's body parsed as JSON, or raise 400, 413, 415 or 501.

    Three rules of I-JSON (RFC 7493) keep every parser reading the body alike: UTF-8, no
    name twice in one object (parsers differ on which one wins), no NaN or Infinity.
    """
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as JSON, with Content-Type: application/json.")
    # The HTTP server only removes the chunked framing: a body in any other coding would
    # be parsed undecoded, so it is refused (RFC 9110 §15.5.16, RFC 9112 §6.1).
    if (request.content_encoding or "identity").lower() != "identity":
        detail = "This server decodes no Content-Encoding: send the body uncompressed."
        response = problem(UnsupportedMediaType(detail))
        response.headers["Accept-Encoding"] = "identity"
        abort(response)
    if request.headers.get("Transfer-Encoding", "chunked").lower() != "chunked":
        abort(501, "Send the body with no Transfer-Encoding other than chunked.")
    body = read_body()
    try:
        # utf-8-sig: a byte order mark may be ignored (RFC 8259 §8.1); no other encoding.
        text = body.decode("utf-8-sig")
        return json.loads(text, object_pairs_hook=unique_names, parse_constant=refuse_constant)
    except json.JSONDecodeError as error:  # the parser says where: line, column, character
        raise BadRequest(f"The body is not valid JSON: {error}.") from None
    except UnicodeDecodeError:
        raise BadRequest("The body is not valid JSON: it is not encoded as UTF-8.") from None
    except ValueError:  # Python reads no integer of over 4,300 digits (CVE-2020-10735)
        raise BadRequest("The body holds a number too long to read.") from None
    except RecursionError:
        raise BadRequest("The JSON body is nested too deeply.") from None


def read_credentials() -> tuple[str, str]:
    """Return the username and password of a registration request, or raise 400."""
    data = read_json()
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str):
        raise BadRequest("'username' is required and must be a string.")
    if not isinstance(password, str):
        raise BadRequest("'password' is required and must be a string.")
    return prepare_credentials(username, password)


class SafeRequest(Request):
    """Flask's request, whose `authorization` is None for any header it cannot parse."""

    @property
    def authorization(self):
        try:
            return super().authorization
        except ValueError:  # Werkzeug 3.1.9 lets non-ASCII Basic credentials escape as this
            return None


class StrictBasicAuth(HTTPBasicAuth):
    """Flask-HTTPAuth's Basic authentication, reading the header with Werkzeug's parser."""

    def get_auth(self):
        # Flask-HTTPAuth's own decoding skips what is not base64: "Basic <alice's>!!junk"
        # or two headers joined with a comma would log in as alice. Werkzeug's parser
        # takes one well-formed value only (RFC 7617); the rest counts as no credentials.
        credentials = request.authorization
        return credentials if credentials is not None and credentials.type == "basic" else None


auth = StrictBasicAuth(realm="Flask REST auth tutorial")

# Verified when the username is unknown, so that such a request costs as much
# as a wrong password and response times do not reveal which usernames exist.
DUMMY_HASH = pwd_context.hash("a password that belongs to nobody")


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
        pwd_context.verify(password, DUMMY_HASH)
        return None
    return user if user.verify_password(password) else None


@auth.error_handler
def auth_error(status: int):
    return problem(
        Unauthorized("Send a valid username and password with HTTP Basic authentication.")
    )


def auth_scheme() -> str:
    """The scheme that the Authorization header names, in lower case (RFC 9110 §11.1)."""
    return request.headers.get("Authorization", "").partition(" ")[0].lower()


token_auth = HTTPTokenAuth(scheme="Bearer", realm="Flask REST auth tutorial")


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


class AnyOfAuth(MultiAuth):
    """Flask-HTTPAuth's MultiAuth, as RFC 9110 §11 asks: it picks the auth for the scheme
    in any case (MultiAuth compares the case), and its 401 names every scheme the route
    accepts, in one WWW-Authenticate field, so that a client learns each way in."""

    def login_required(self, view):
        auths = [self.main_auth, *self.additional_auths]

        @wraps(view)
        def decorated(*args, **kwargs):
            chosen = next((a for a in auths if a.scheme.lower() == auth_scheme()), auths[0])
            response = make_response(chosen.login_required(view)(*args, **kwargs))
            if response.status_code == 401:
                challenges = {a: a.authenticate_header() for a in auths}
                challenges[chosen] = response.headers["WWW-Authenticate"]  # with any error=
                response.headers["WWW-Authenticate"] = ", ".join(challenges.values())
            return response

        return decorated


token_or_password = AnyOfAuth(token_auth, auth)


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.request_class = SafeRequest
    app.config.from_mapping(
        # A relative SQLite path lands in the instance folder: one file per step.
        SQLALCHEMY_DATABASE_URI=os.environ.get("DATABASE_URL", f"sqlite:///{__package__}.sqlite"),
        # No bound parameter (a password hash, say) in any error message or log line, and
        # a pooled connection is tested before use, so a restarted database just works.
        SQLALCHEMY_ENGINE_OPTIONS={"hide_parameters": True, "pool_pre_ping": True},
        MAX_CONTENT_LENGTH=16 * 1024,
        TOKEN_LIFETIME=60 * 60,  # seconds; RFC 6750 §5.3 recommends an hour or less
    )
    if test_config is not None:
        app.config.update(test_config)

    db.init_app(app)
    with app.app_context():
        db.create_all()

    # A path with doubled slashes is a 404, like any path without a route. By default
    # Werkzeug redirects it to the merged path: an HTML 308 whose Location takes its host
    # from the Host header, and which a client follows with the same method and body.
    app.url_map.merge_slashes = False
    app.register_error_handler(HTTPException, problem)
    app.register_error_handler(OperationalError, database_unavailable)

    # The converter's max keeps ids that no INTEGER column can hold a 404.
    @app.get("/api/users/<int(max=2147483647):id>")
    def get_user(id: int):
        user = db.get_or_404(User, id, description=f"There is no user with id {id}.")
        return user.to_dict()

    @app.post("/api/users")
    def create_user():
        username, password = read_credentials()
        if db.session.scalar(db.select(User).filter_by(username=username)):
            raise Conflict(f"The username '{username}' is already taken.")
        user = User(username=username)
        user.hash_password(password)
        db.session.add(user)
        try:
            db.session.commit()
        except IntegrityError:
            # The check above spares a slow hash; this unique constraint is
            # what holds when two requests race for the same name.
            db.session.rollback()
            raise Conflict(f"The username '{username}' is already taken.") from None
        # A path, not a full URL (RFC 9110 §10.2.2 allows it), from the route alone:
        # nothing a client sends, such as Host or a proxy's headers, can change it.
        return user.to_dict(), 201, {"Location": f"/api/users/{user.id}"}

    @app.post("/api/tokens")
    @auth.login_required  # HTTP Basic only: a token never gets a new token
    def issue_token():
        # Expired tokens go each time one is issued, so the table does not grow forever.
        db.session.execute(db.delete(Token).where(Token.expires_at <= utc_now()))
        lifetime = app.config["TOKEN_LIFETIME"]
        token = Token.issue(auth.current_user(), lifetime)
        db.session.commit()
        body = {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}
        return body, {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1

    @app.delete("/api/tokens")
    @token_auth.login_required
    def revoke_token():
        digest = Token.digest_of(request.authorization.token)
        db.session.execute(db.delete(Token).filter_by(digest=digest))
        db.session.commit()
        return "", 204

    @app.get("/api/resource")
    @token_or_password.login_required
    def get_resource():
        return {"data": f"Hello, {token_or_password.current_user().username}!"}

    return app
