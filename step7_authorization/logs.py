"""No token in any log line: a filter that masks anything of a token's shape."""

import logging
import re
import sys

from flask import Flask
from werkzeug.serving import BaseWSGIServer

# "fra_" and the characters of secrets.token_urlsafe, each also percent-encoded, once or
# more ("f" is "%66", "%2566"...): the shape of a token wherever a client put it (a query
# string, a path, another header) and however long a piece of it a log line holds.
PERCENT = "%(?:25)*"
TOKEN_CHARACTER = rf"(?:[A-Za-z0-9_-]|{PERCENT}[0-9A-Fa-f]{{2}})"
PREFIX = rf"(?:f|{PERCENT}[46]6)(?:r|{PERCENT}[57]2)(?:a|{PERCENT}[46]1)(?:_|{PERCENT}5f)"
TOKEN = re.compile(PREFIX + TOKEN_CHARACTER + "*", re.IGNORECASE)
MASK = "fra_[masked]"


class MaskTokens(logging.Filter):
    """Rewrite a log record so that its message and traceback hold no token."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg, record.args = TOKEN.sub(MASK, record.getMessage()), None
        except (TypeError, ValueError):  # arguments that do not fit the message: keep both
            record.msg = TOKEN.sub(MASK, str(record.msg))
        if record.exc_info:  # the traceback, formatted now so that it can be masked too
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = TOKEN.sub(MASK, record.exc_text)
        if record.stack_info:
            record.stack_info = TOKEN.sub(MASK, record.stack_info)
        return True


MASK_TOKENS = MaskTokens()
PRINT_ERROR = BaseWSGIServer.handle_error


def log_server_error(server: BaseWSGIServer, request, client_address) -> None:
    """Log, in one line, an error that Werkzeug's development server meets outside the app
    (a request target that Python's URL parser refuses, say), which it would print with its
    traceback to stderr, past every filter, whatever the client sent in its message."""
    if server.passthrough_errors:  # a debugger's setting: let the error through, as before
        return PRINT_ERROR(server, request, client_address)
    error = sys.exc_info()[1]  # the error being handled
    logging.getLogger("werkzeug").error("A request from %s failed: %r", client_address, error)


def mask_tokens_in_logs(app: Flask) -> None:
    """Filter every record of the app's logger and of both servers' loggers.

    Werkzeug's development server logs each request line, query string and all; gunicorn
    logs a malformed request line whole. Each logger gets the one filter once. The
    development server prints the errors it meets outside the app: it logs them now.
    """
    for name in ("werkzeug", "gunicorn.error", "gunicorn.access"):
        logging.getLogger(name).addFilter(MASK_TOKENS)
    app.logger.addFilter(MASK_TOKENS)
    BaseWSGIServer.handle_error = log_server_error  # Werkzeug has no setting for this
