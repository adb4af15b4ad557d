"""Step 4: HTTP Basic authentication with Flask-HTTPAuth.

Flask's CLI finds create_app here: flask --app <folder> run.
"""

from flask import Flask
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from .api import api
from .errors import database_unavailable, problem
from .headers import SafeRequest
from .logs import escape_controls_in_logs
from .models import create_tables, db
from .settings import configure


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: settings, database, error handlers and routes, in that order."""
    app = Flask(__name__)
    app.request_class = SafeRequest
    configure(app, test_config)
    escape_controls_in_logs(app)

    db.init_app(app)
    with app.app_context():
        create_tables()

    # Doubled slashes within a path are a 404, like any path without a route. By default
    # Werkzeug redirects them to the merged path: an HTML 308 whose Location takes its host
    # from the Host header, and which a client follows with the same method and body.
    # Slashes at the start count as one: the development server (Python's http.server)
    # merges them before the app sees the path, and on gunicorn Werkzeug's router drops
    # them, so //api/users/1 is /api/users/1 on both servers, with the same checks.
    app.url_map.merge_slashes = False
    app.register_error_handler(HTTPException, problem)
    app.register_error_handler(OperationalError, database_unavailable)
    app.register_blueprint(api)
    return app
