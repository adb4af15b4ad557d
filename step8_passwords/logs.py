"""Log lines that no request can forge: a filter that writes each record on one line.

What a client sends (a path, a query, a header, a username) reaches the log lines of both
servers and of the app; the characters in it that would end a line are written escaped.
No token in any log line either: a second filter masks anything of a token's shape.
"""

import logging
import re
import sys

from flask import Flask
from werkzeug.serving import BaseWSGIServer

# OWASP ASVS 5.0 V16.4.1: log entries are encoded so that no one can forge a line. Every
# control character (C0, DEL and C1, NEL among them) and the line and paragraph separators
# are written as Werkzeug writes them in its request log (\x0a, \x85, \u2028): those are
# all the characters at which str.splitlines() ends a line, and ESC, which begins the
# escape sequences that a terminal obeys.
CONTROLS = [*range(0x20), *range(0x7F, 0xA0)]
SEPARATORS = [0x2028, 0x2029]


class EscapeControls(logging.Filter):
    """Rewrite a log record so that its message holds none of the given characters raw."""

    def __init__(self, characters: list[int]):
        super().__init__()
        escapes = {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" for c in characters}
        self.table = str.maketrans(escapes)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg, record.args = record.getMessage().translate(self.table), None
        except (TypeError, ValueError):  # arguments that do not fit the message: keep both
            record.msg = str(record.msg).translate(self.table)
        return True


ESCAPE_CONTROLS = EscapeControls(CONTROLS + SEPARATORS)
# Werkzeug escapes the control characters of the request line it logs, then colours the
# line with escape sequences of its own: it leaves only the separators, which its decoding
# of the path can produce.
ESCAPE_SEPARATORS = EscapeControls(SEPARATORS)


def escape_controls_in_logs(app: Flask) -> None:
    """Filter every record of the app's logger and of both servers' loggers.

    gunicorn writes the path of each request into its access log decoded, and Flask the
    path of a request that failed into the app's log. Each logger gets its filter once.
    """
    for name in ("gunicorn.error", "gunicorn.access"):
        logging.getLogger(name).addFilter(ESCAPE_CONTROLS)
    app.logger.addFilter(ESCAPE_CONTROLS)
    logging.getLogger("werkzeug").addFilter(ESCAPE_SEPARATORS)


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
    Called before escape_controls_in_logs(): a token is masked in what the client sent,
    and what is left is escaped.
    """
    for name in ("werkzeug", "gunicorn.error", "gunicorn.access"):
        logging.getLogger(name).addFilter(MASK_TOKENS)
    app.logger.addFilter(MASK_TOKENS)
    BaseWSGIServer.handle_error = log_server_error  # Werkzeug has no setting for this
