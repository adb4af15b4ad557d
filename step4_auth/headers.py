"""The Authorization header, read strictly: one well-formed value or no credentials."""

from flask import Request, request
from flask_httpauth import HTTPBasicAuth


class SafeRequest(Request):
    """Flask's request, whose `authorization` is None for any header it cannot parse."""

    @property
    def authorization(self):
        try:
            return super().authorization
        except ValueError:  # Werkzeug 3.1.9 lets non-ASCII Basic credentials escape as this
            return None


class StrictBasicAuth(HTTPBasicAuth):
    """Flask-HTTPAuth's Basic authentication, reading the header with Werkzeug's parser."""

    def get_auth(self):
        # Flask-HTTPAuth's own decoding skips what is not base64: "Basic <alice's>!!junk"
        # or two headers joined with a comma would log in as alice. Werkzeug's parser
        # takes one well-formed value only (RFC 7617); the rest counts as no credentials.
        credentials = request.authorization
        return credentials if credentials is not None and credentials.type == "basic" else None
