"""The API's routes, in a Blueprint that create_app registers."""

from flask import Blueprint

from .models import User, db

api = Blueprint("api", __name__)


# The converter's max keeps ids that no INTEGER column can hold a 404.
@api.get("/api/users/<int(max=2147483647):id>")
def get_user(id: int):
    user = db.get_or_404(User, id, description=f"There is no user with id {id}.")
    return user.to_dict()
