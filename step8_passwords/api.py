"""The API's routes, in a Blueprint that create_app registers."""

from flask import Blueprint, current_app
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest, Conflict, NotFound

from .auth import auth, auth_error, token_auth, token_or_password
from .bodies import read_json
from .credentials import check_new_password, prepare_credentials
from .limits import limit_registrations
from .models import Token, User, db, utc_now
from .parameters import whole_number
from .permissions import admins, allow, any_user, anyone, own_account_or_admin

api = Blueprint("api", __name__)


# The converter's max keeps ids that no INTEGER column can hold a 404.
@api.get("/api/users/<int(max=2147483647):id>")
@allow(anyone)
def get_user(id: int):
    user = db.get_or_404(User, id, description=f"There is no user with id {id}.")
    return user.to_dict()


@api.post("/api/users")
@limit_registrations
@allow(anyone)
def create_user():
    username, password = read_credentials()
    check_new_password("password", password, username)  # common ones, and the name in it
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
    # A client never sets its own role, nor anything else but these two (OWASP API3:2023).
    others = [repr(name) for name in data if name not in ("username", "password")]
    if others:
        raise BadRequest(
            f"The body may name only 'username' and 'password', not {', '.join(others)}."
        )
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str):
        raise BadRequest("'username' is required and must be a string.")
    if not isinstance(password, str):
        raise BadRequest("'password' is required and must be a string.")
    return prepare_credentials(username, password)


@api.post("/api/tokens")
@auth.login_required  # HTTP Basic only: a token never gets a new token
@allow(any_user)
def issue_token():
    # Expired tokens go each time one is issued, so the table does not grow forever.
    db.session.execute(db.delete(Token).where(Token.expires_at <= utc_now()))
    lifetime = current_app.config["TOKEN_LIFETIME"]
    token = Token.issue(auth.current_user(), lifetime)
    try:  # the account may have been deleted since its password was checked
        if not auth.current_user().still_verified():  # a change ended its tokens meanwhile
            return auth_error(401)
        db.session.commit()
    except IntegrityError:  # then its credentials fail now
        db.session.rollback()
        return auth_error(401)
    body = {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}
    return body, {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1


@api.delete("/api/tokens")
@token_auth.login_required
@allow(any_user)
def revoke_token():
    # The token that verify_token accepted, read the same strict way (headers.py).
    digest = Token.digest_of(token_auth.get_auth().token)
    db.session.execute(db.delete(Token).filter_by(digest=digest))
    db.session.commit()
    return "", 204


@api.get("/api/resource")
@token_or_password.login_required
@allow(any_user)
def get_resource():
    return {"data": f"Hello, {token_or_password.current_user().username}!"}


@api.get("/api/users")
@token_or_password.login_required
@allow(admins, "Only an admin may list users.")
def list_users():
    page = whole_number("page", 1, 2147483647, default=1)
    per_page = whole_number("per_page", 1, 100, default=20)
    query = db.select(User).order_by(User.id)
    users = db.paginate(query, page=page, per_page=per_page, error_out=False)
    listed = [user.to_dict_for_admins() for user in users]
    return {"users": listed, "page": page, "per_page": per_page, "total": users.total}


@api.delete("/api/users/<user_id:id>")
@token_or_password.login_required
@allow(own_account_or_admin, "You may delete only your own account.")
def delete_user(id: int | None):
    # One statement: the user's tokens go with it (ON DELETE CASCADE), and of two
    # deletes at once, the second finds no row and answers 404.
    deleted = id is not None and db.session.execute(db.delete(User).filter_by(id=id)).rowcount
    db.session.commit()
    if not deleted:
        raise NotFound("There is no user with this id.")
    return "", 204
