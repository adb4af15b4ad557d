"""Who may do what: small named rules, one declared on every route under /api/, and a 403
for a route that declares none (deny by default; OWASP ASVS 5.0.0 V8.2.1 and V8.2.2)."""

from collections.abc import Callable
from functools import wraps

from flask import current_app, request
from werkzeug.exceptions import Forbidden

from .auth import token_or_password
from .models import User

# A rule answers whether `user` may call the route with the arguments of its path, such
# as {"id": 3}. `user` is the caller that authentication loaded for this request (None on
# an open route). A rule reads nothing else, so it costs no query, and a role changed in
# the database holds from the caller's next request on, whatever credentials it sends.
Rule = Callable[[User | None, dict], bool]


def anyone(user: User | None, path: dict) -> bool:
    return True  # an open route: no credentials needed


def any_user(user: User | None, path: dict) -> bool:
    return user is not None


def admins(user: User | None, path: dict) -> bool:
    return user is not None and user.is_admin


def own_account(user: User | None, path: dict) -> bool:
    return user is not None and user.id == path["id"]  # admins included


def own_account_or_admin(user: User | None, path: dict) -> bool:
    return user is not None and (user.id == path["id"] or user.is_admin)


def allow(rule: Rule, refusal: str = "You may not do this."):
    """Declare who may call the route, and the detail of the 403 for everyone else.

    Put it under the route's authentication decorator, so that a caller without valid
    credentials gets the 401 first, and a refused caller gets the 403 before the route
    reads its query or looks for the object it names (so no 400 or 404 tells it more).
    """

    def declare(view):
        @wraps(view)
        def checked(**path):
            # Flask-HTTPAuth keeps the user that any of its auths verified for this request.
            if not rule(token_or_password.current_user(), path):
                # No WWW-Authenticate: other credentials of the same user would not help
                # (RFC 9110 §15.5.4).
                raise Forbidden(refusal)
            return view(**path)

        checked.rule = rule  # what refuse_undeclared looks for
        return checked

    return declare


def refuse_undeclared() -> None:
    """Before every request: a route under /api/ that declares no rule answers 403 to every
    caller, whichever blueprint or module registered it."""
    if request.url_rule is None or not request.url_rule.rule.startswith("/api/"):
        return  # no route matched (a 404 or 405 follows), or not the API's
    view = current_app.view_functions[request.url_rule.endpoint]
    if getattr(view, "rule", None) is None:
        raise Forbidden("This route declares no rule of who may call it, so nobody may.")
