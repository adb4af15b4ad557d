"""The Authorization header, read strictly: one well-formed value or no credentials."""

import re
from functools import wraps

from flask import Request, make_response, request
from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth, MultiAuth
from werkzeug.datastructures import Authorization


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


def authorization() -> str:
    """The Authorization header's value, without the spaces and tabs around it, which are
    not part of a field's value (RFC 9110 §5.5): gunicorn strips them, Werkzeug's
    development server does not, and the app must read one header alike on both."""
    return request.headers.get("Authorization", "").strip(" \t")


def auth_scheme() -> str:
    """The scheme that the Authorization header names, in lower case (RFC 9110 §11.1):
    the text up to its first space or tab."""
    return re.split(r"[ \t]", authorization(), maxsplit=1)[0].lower()


# RFC 6750 §2.1: the scheme, one or more spaces, one token68 (RFC 9110 §11.2).
BEARER = re.compile(r"bearer +[A-Za-z0-9._~+/-]+=*", re.IGNORECASE)


class StrictTokenAuth(HTTPTokenAuth):
    """Flask-HTTPAuth's token authentication, taking only `Bearer <token68>`."""

    def get_auth(self):
        # Werkzeug alone reads "Bearer <t>," or a quoted token as the token: a proxy could
        # read such a header another way, as with Basic in step 4. Only the exact shape is
        # parsed; any other value is no token, which the error handler calls invalid_token.
        value = authorization()
        return Authorization.from_header(value) if BEARER.fullmatch(value) else None


class AnyOfAuth(MultiAuth):
    """Flask-HTTPAuth's MultiAuth, as RFC 9110 §11 asks: it picks the auth for the scheme
    in any case (MultiAuth compares the case), and its 401 names every scheme the route
    accepts, in one WWW-Authenticate field, so that a client learns each way in."""

    def login_required(self, view):
        auths = [self.main_auth, *self.additional_auths]

        @wraps(view)
        def decorated(*args, **kwargs):
            chosen = next((a for a in auths if a.scheme.lower() == auth_scheme()), auths[0])
            response = make_response(chosen.login_required(view)(*args, **kwargs))
            if response.status_code == 401:
                challenges = {a: a.authenticate_header() for a in auths}
                challenges[chosen] = response.headers["WWW-Authenticate"]  # with any error=
                response.headers["WWW-Authenticate"] = ", ".join(challenges.values())
            return response

        return decorated
