"""Log lines that no request can forge: a filter that writes each record on one line.

What a client sends (a path, a query, a header, a username) reaches the log lines of both
servers and of the app; the characters in it that would end a line are written escaped.
"""

import logging

from flask import Flask

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
