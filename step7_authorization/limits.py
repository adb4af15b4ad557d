"""Throttling with Flask-Limiter: failed logins per username and per address, and
registrations per address, counted in moving windows (settings.py sets the limits)."""

import math
import time
from functools import wraps

from flask import current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse_many
from werkzeug.exceptions import BadRequest, TooManyRequests

from .counts import CHECKS, PENDING, client_address, no_longer_pending, one_at_a_time, window
from .credentials import prepare
from .errors import problem

# Its settings are RATELIMIT_* in settings.py; create_app calls limiter.init_app(app).
limiter = Limiter(client_address)


def registrations_per_address() -> str:
    return current_app.config["REGISTRATIONS_PER_ADDRESS"]


def too_many(what: str, reset_at: float) -> TooManyRequests:
    """A 429 that says what is limited and, in seconds, when to try again (RFC 6585 §4)."""
    seconds = max(1, math.ceil(reset_at - time.time()))
    return TooManyRequests(f"{what}. Try again in {seconds} seconds.", retry_after=seconds)


def rate_limited(error: RateLimitExceeded):
    """Flask-Limiter's 429 (registrations), with Retry-After and problem details."""
    return problem(too_many(error.description, limiter.current_limit.window.reset_time))


def username_key(username: str) -> str:
    """The name as registration stores it (RFC 8265): "ａｌｉｃｅ" counts as "alice"."""
    try:
        return prepare("username", username, "UsernameCasePreserved", 1, 32)
    except BadRequest:  # no account can have it: counted as sent
        return username


def failure_windows(username: str):
    """Each moving window a refused password counts in: (window, its keys, whose count)."""
    for setting, whose, key in (
        ("FAILED_LOGINS_PER_USERNAME", "for this username", username_key(username)),
        ("FAILED_LOGINS_PER_ADDRESS", "from your address", client_address()),
    ):
        for item in parse_many(current_app.config[setting]):
            yield item, (setting, key), whose


def full_windows(counted: list) -> list:
    """The windows that one more failure would overfill, counting the pending guesses as
    failures: (when each has room again, as a time.time() value, whose count it is)."""
    full = []
    for item, keys, whose in counted:
        if window(limiter, "test", item, *keys, cost=1 + PENDING[keys]):
            continue
        if window(limiter, "test", item, *keys):  # only guesses still running fill it
            full.append((time.time() + 1, whose))
        else:
            full.append((window(limiter, "get_window_stats", item, *keys).reset_time, whose))
    return full


def limit_failures(verify_password):
    """Wrap the password check: a 429, before any hash, while the username or the client's
    address has too many recent failures; each refused password counts against both."""

    @wraps(verify_password)
    def checked(username: str, password: str):
        credentials = request.authorization  # None, as for Flask-HTTPAuth, if malformed
        enabled = current_app.config["RATELIMIT_ENABLED"]
        if credentials is None or credentials.type != "basic" or not enabled:
            return verify_password(username, password)  # no password sent: not an attempt
        counted = list(failure_windows(username))
        windows = {keys for _, keys, _ in counted}
        # Checked, verified and counted one guess per name at a time (counts.py): at
        # once, twenty guesses would all pass the check before the first is counted.
        with one_at_a_time(username_key(username)):
            # Guesses for other names, from the same address, run at once: a check counts
            # those that passed theirs and are not counted yet (pending) as failures.
            with CHECKS:
                full = full_windows(counted)
                if not full:
                    PENDING.update(windows)
            if full:  # retry once every full window has room again
                reset_at, whose = max(full)
                raise too_many(f"Too many failed logins {whose}", reset_at)
            try:
                user = verify_password(username, password)
                if user is None:
                    for item, keys, _ in counted:
                        window(limiter, "hit", item, *keys)
            finally:
                no_longer_pending(windows)
        return user

    return checked
