"""Every error as problem details (RFC 9457), and a 503 while the database cannot serve."""

from flask import current_app, jsonify
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, ServiceUnavailable


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
