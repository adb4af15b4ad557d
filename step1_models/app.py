"""Step 1: a User model stored with Flask-SQLAlchemy, and a route that reads it."""

import os

from flask import Flask, current_app, jsonify
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from werkzeug.exceptions import HTTPException, ServiceUnavailable


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    # Room for the ~120-character sha512_crypt hashes of step 2, and more.
    password_hash: Mapped[str] = mapped_column(String(255))

    def to_dict(self) -> dict:
        # The one place that decides what a client sees: never the hash.
        return {"id": self.id, "username": self.username}


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


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(
        # A relative SQLite path lands in the instance folder: one file per step.
        SQLALCHEMY_DATABASE_URI=os.environ.get("DATABASE_URL", f"sqlite:///{__package__}.sqlite"),
        # No bound parameter (a password hash, say) in any error message or log line, and
        # a pooled connection is tested before use, so a restarted database just works.
        SQLALCHEMY_ENGINE_OPTIONS={"hide_parameters": True, "pool_pre_ping": True},
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

    return app
