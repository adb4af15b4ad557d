"""Keeping the counts right: whom an address limit counts, one guess per name at a time, the
guesses checked but not counted yet, and the process's memory while the store is away."""

import ipaddress
import logging
import threading
from collections import Counter
from contextlib import contextmanager

from flask import request
from flask.logging import default_handler
from flask_limiter import Limiter


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


# Guesses for other names run at once, and may come from one address. A guess that passed
# its check is pending until it is counted, and a check counts the pending ones as failures,
# so that the address's count cannot be passed by guesses checked side by side.
CHECKS = threading.Lock()  # one check at a time (no hash inside), and what passes is pending
PENDING: Counter = Counter()  # the keys of each window: guesses that passed, not counted yet


def no_longer_pending(windows: set) -> None:
    """Take a guess, counted now (or not a failure), out of the pending ones."""
    with CHECKS:
        PENDING.subtract(windows)
        for keys in windows:
            if PENDING[keys] <= 0:
                del PENDING[keys]


# Flask-Limiter logs to a logger with no handler: its warning that the store is unreachable
# would go nowhere. It goes to the app's log instead, one line each.
logging.getLogger("flask-limiter").addHandler(default_handler)


def window(limiter: Limiter, method: str, item, *keys, **options):
    """Call the limiter's strategy (test, hit or get_window_stats) on moving window `item`.

    Flask-Limiter counts in memory when the store fails in its own checks; a store that
    fails in the middle of a request, between its check and its count, is handled here.
    """
    try:
        return getattr(limiter.limiter, method)(item, *keys, **options)
    except limiter.storage.base_exceptions:  # for Redis, RedisError: it cannot be reached
        limiter.logger.warning("Rate limit storage unreachable - counting in memory")
        limiter._storage_dead = True  # Flask-Limiter's own switch: it turns it back itself
        return getattr(limiter.limiter, method)(item, *keys, **options)
