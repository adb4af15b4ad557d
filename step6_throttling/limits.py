"""Throttling with Flask-Limiter: failed logins per username and per address, registrations
per address, counted in moving windows, in the process or in a store all workers share."""

import ipaddress
import logging
import math
import threading
import time
from contextlib import contextmanager
from functools import wraps

from flask import current_app, request
from flask.logging import default_handler
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse_many
from werkzeug.exceptions import BadRequest, TooManyRequests

from .credentials import prepare
from .errors import problem


def client_address() -> str:
    """Whom the address limits count: the TCP peer, and an IPv6 client by its /64."""
    try:
        address = ipaddress.ip_address(request.remote_addr)
    except ValueError:  # not an IP address (a Unix socket): counted as it is
        return request.remote_addr or "unknown"
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped:  # ::ffff:192.0.2.1, an IPv4 client on an IPv6 socket
        return str(address.ipv4_mapped)
    # One host usually holds a whole /64 and can pick any address in it.
    return str(ipaddress.ip_network(f"{address}/64", strict=False))


# Its settings are RATELIMIT_* in settings.py; create_app calls limiter.init_app(app).
limiter = Limiter(client_address)
# Flask-Limiter logs to a logger with no handler: its warning that the store is unreachable
# would go nowhere. It goes to the app's log instead, one line each.
logging.getLogger("flask-limiter").addHandler(default_handler)


def too_many(what: str, reset_at: float) -> TooManyRequests:
    """A 429 that says what is limited and, in seconds, when to try again (RFC 6585 §4)."""
    seconds = max(1, math.ceil(reset_at - time.time()))
    return TooManyRequests(f"{what}. Try again in {seconds} seconds.", retry_after=seconds)


def rate_limited(error: RateLimitExceeded):
    """Flask-Limiter's 429 (registrations), with Retry-After and problem details."""
    return problem(too_many(error.description, limiter.current_limit.window.reset_time))


def registrations_per_address() -> str:
    return current_app.config["REGISTRATIONS_PER_ADDRESS"]


def enabled() -> bool:
    return current_app.config["RATELIMIT_ENABLED"]


def windows(method: str, item, *keys):
    """Call the limiter's strategy (test, hit or get_window_stats) on moving window `item`.

    Flask-Limiter counts in memory when the store fails in its own checks; a store that
    fails in the middle of a request, between its check and its count, is handled here.
    """
    try:
        return getattr(limiter.limiter, method)(item, *keys)
    except limiter.storage.base_exceptions:  # for Redis, RedisError: it cannot be reached
        limiter.logger.warning("Rate limit storage unreachable - counting in memory")
        limiter._storage_dead = True  # Flask-Limiter's own switch: it turns it back itself
        return getattr(limiter.limiter, method)(item, *keys)


# One lock per username being checked, so that two guesses for one name are never checked
# at once: each sees the count the one before left. Other names do not wait.
LOCKS: dict[str, list] = {}  # username: [its lock, how many requests hold or wait for it]
LOCKS_GUARD = threading.Lock()


@contextmanager
def one_at_a_time(name: str):
    with LOCKS_GUARD:
        entry = LOCKS.setdefault(name, [threading.Lock(), 0])
        entry[1] += 1
    try:
        with entry[0]:
            yield
    finally:
        with LOCKS_GUARD:
            entry[1] -= 1
            if entry[1] == 0:
                del LOCKS[name]


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


def limit_failures(verify_password):
    """Wrap the password check: a 429, before any hash, while the username or the client's
    address has too many recent failures; each refused password counts against both."""

    @wraps(verify_password)
    def checked(username: str, password: str):
        credentials = request.authorization  # None, as for Flask-HTTPAuth, if malformed
        if credentials is None or credentials.type != "basic" or not enabled():
            return verify_password(username, password)  # no password sent: not an attempt
        counted = list(failure_windows(username))
        with one_at_a_time(username_key(username)):
            full = [
                (windows("get_window_stats", item, *keys).reset_time, whose)
                for item, keys, whose in counted
                if not windows("test", item, *keys)
            ]
            if full:  # retry once every full window has room again
                reset_at, whose = max(full)
                raise too_many(f"Too many failed logins {whose}", reset_at)
            user = verify_password(username, password)
            if user is None:
                for item, keys, _ in counted:
                    windows("hit", item, *keys)
        return user

    return checked
