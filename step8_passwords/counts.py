"""Keeping the counts right: whom an address limit counts, one guess per name at a time, the
guesses checked but not counted yet, and the process's memory while the store is away."""

import ipaddress
import threading
import time
from collections import Counter
from contextlib import contextmanager

from flask import Flask, current_app, g, request
from flask_limiter import Limiter
from limits import WindowStats
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


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


class Windows:
    """The moving windows of `limits`, counted in the limiter's store, or in this process's
    memory while the store does not answer (Redis away, or too slow: settings.py).

    The first call that fails moves the rest of its request to memory, and the process
    tries the store again after RETRY seconds. Only the counted requests call it.
    """

    RETRY = 10  # seconds

    def __init__(self, limiter: Limiter):
        self.limiter = limiter

    def init_app(self, app: Flask) -> None:
        self.memory = MovingWindowRateLimiter(MemoryStorage())
        self.down_until = None  # a time.time() value, while the store is not tried

    def counted(self, use):
        """use(strategy), with the store's strategy, or the memory's when it does not answer."""
        if not g.get("store_down") and (self.down_until or 0) <= time.time():
            try:
                answer = use(self.limiter.limiter)
            except self.limiter.storage.base_exceptions:  # for Redis, RedisError
                if self.down_until is None:  # one line, when the store goes away
                    current_app.logger.warning(
                        "Rate limit storage unreachable - counting in memory"
                    )
                self.down_until = time.time() + self.RETRY
            else:
                self.down_until = None
                return answer
        g.store_down = True
        return use(self.memory)

    def test(self, item, *keys, cost: int = 1) -> bool:
        return self.counted(lambda strategy: strategy.test(item, *keys, cost=cost))

    def hit(self, item, *keys) -> bool:
        return self.counted(lambda strategy: strategy.hit(item, *keys))

    def get_window_stats(self, item, *keys) -> WindowStats:
        return self.counted(lambda strategy: strategy.get_window_stats(item, *keys))
