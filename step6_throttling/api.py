"""The API's routes, in a Blueprint that create_app registers."""

from flask import Blueprint, current_app
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest, Conflict

from .auth import auth, token_auth, token_or_password
from .bodies import read_json
from .credentials import prepare_credentials
from .limits import limit_registrations
from .models import Token, User, db, utc_now

api = Blueprint("api", __name__)


# The converter's max keeps ids that no INTEGER column can hold a 404.
@api.get("/api/users/<int(max=2147483647):id>")
def get_user(id: int):
    user = db.get_or_404(User, id, description=f"There is no user with id {id}.")
    return user.to_dict()


@api.post("/api/users")
@limit_registrations
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


@api.post("/api/tokens")
@auth.login_required  # HTTP Basic only: a token never gets a new token
def issue_token():
    # Expired tokens go each time one is issued, so the table does not grow forever.
    db.session.execute(db.delete(Token).where(Token.expires_at <= utc_now()))
    lifetime = current_app.config["TOKEN_LIFETIME"]
    token = Token.issue(auth.current_user(), lifetime)
    db.session.commit()
    body = {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}
    return body, {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1


@api.delete("/api/tokens")
@token_auth.login_required
def revoke_token():
    # The token that verify_token accepted, read the same strict way (headers.py).
    digest = Token.digest_of(token_auth.get_auth().token)
    db.session.execute(db.delete(Token).filter_by(digest=digest))
    db.session.commit()
    return "", 204


@api.get("/api/resource")
@token_or_password.login_required
def get_resource():
    return {"data": f"Hello, {token_or_password.current_user().username}!"}
