"""The API's routes, in a Blueprint that create_app registers."""

from flask import Blueprint
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest, Conflict

from .auth import auth
from .bodies import read_json
from .credentials import prepare_credentials
from .models import User, db

api = Blueprint("api", __name__)


# The converter's max keeps ids that no INTEGER column can hold a 404.
@api.get("/api/users/<int(max=2147483647):id>")
def get_user(id: int):
    user = db.get_or_404(User, id, description=f"There is no user with id {id}.")
    return user.to_dict()


@api.post("/api/users")
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


@api.get("/api/resource")
@auth.login_required
def get_resource():
    return {"data": f"Hello, {auth.current_user().username}!"}
