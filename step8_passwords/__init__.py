"""Step 8: passwords, changed with the current one, common ones refused, old hashes upgraded.

Flask's CLI finds create_app here: flask --app <folder> run.
"""

from flask import Flask
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from .api import api
from .commands import admin
from .errors import database_unavailable, problem
from .foreign_keys import enforce_foreign_keys
from .headers import SafeRequest
from .limits import limiter, windows
from .logs import escape_controls_in_logs, mask_tokens_in_logs
from .models import create_tables, db
from .parameters import UserId
from .passwords import passwords
from .permissions import refuse_undeclared
from .schema import refuse_an_earlier_schema
from .settings import configure


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: settings, database, error handlers and routes, in that order."""
    app = Flask(__name__)
    app.request_class = SafeRequest
    configure(app, test_config)
    mask_tokens_in_logs(app)
    escape_controls_in_logs(app)
    if app.config["BEHIND_PROXY"]:  # only X-Forwarded-For: no header builds a URL
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=0)

    db.init_app(app)
    with app.app_context():
        enforce_foreign_keys(db.engine)
        refuse_an_earlier_schema()  # a database of step 6 or before stops the start here
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
    app.url_map.converters["user_id"] = UserId
    app.register_blueprint(api)
    app.register_blueprint(passwords)  # PUT /api/users/<id>/password
    app.before_request(refuse_undeclared)  # a route under /api/ without a rule: 403
    app.cli.add_command(admin)  # flask admin grant NAME, flask admin revoke NAME
    limiter.init_app(app)
    windows.init_app(app)
    return app
