"""Step 1: a User model stored with Flask-SQLAlchemy, and a route that reads it.

Flask's CLI finds create_app here: flask --app <folder> run.
"""

from flask import Flask
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from .api import api
from .errors import database_unavailable, problem
from .models import create_tables, db
from .settings import configure


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: settings, database, error handlers and routes, in that order."""
    app = Flask(__name__)
    configure(app, test_config)

    db.init_app(app)
    with app.app_context():
        create_tables()

    # A path with doubled slashes is a 404, like any path without a route. By default
    # Werkzeug redirects it to the merged path: an HTML 308 whose Location takes its host
    # from the Host header, and which a client follows with the same method and body.
    app.url_map.merge_slashes = False
    app.register_error_handler(HTTPException, problem)
    app.register_error_handler(OperationalError, database_unavailable)
    app.register_blueprint(api)
    return app
