"""Another learner's limit on failed logins, for a copy of step 6: put in its package as
failed_logins.py, and imported at the end of its limits.py, it replaces limit_failures with
a design of its own (tests/test_workshop.py runs step 6's checks on it).

Where the solution asks each window whether one more failure fits, this design reads how
much room each window has left (get_window_stats), keeps its own locks and its own count of
guesses not counted yet, and, when the store fails, counts in a memory of its own. It uses
only what a learner's copy keeps by its TODOs: `limiter`, client_address() of counts.py and
prepare() of credentials.py.
"""

import threading
import time
from collections import Counter
from functools import wraps

from flask import current_app, request
from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from werkzeug.exceptions import BadRequest, TooManyRequests

from .counts import client_address
from .credentials import prepare
from .limits import limiter  # limits.py imports this module at its end, once it has it

__all__ = ["limit_failures"]  # what it replaces in limits.py

NAME_LOCKS: dict[str, threading.Lock] = {}
GUARD = threading.Lock()  # guards NAME_LOCKS and UNCOUNTED
SWITCH = threading.Lock()  # guards GONE
UNCOUNTED: Counter = Counter()
MEMORY = MovingWindowRateLimiter(MemoryStorage())
GONE: list[float] = []  # when the store failed, while it is away


def strategy():
    if GONE and time.time() - GONE[0] > 30 and limiter.storage.check():
        GONE.clear()
    return MEMORY if GONE else limiter.limiter


def ask(call: str, item, keys: tuple):
    try:
        return getattr(strategy(), call)(item, *keys)
    except limiter.storage.base_exceptions:
        with SWITCH:
            if not GONE:
                limiter.logger.warning("The limits' store is unreachable: counting in memory")
                GONE.append(time.time())
        return getattr(MEMORY, call)(item, *keys)


def counted_name(username: str) -> str:
    try:
        return prepare("username", username, "UsernameCasePreserved", 1, 32)
    except BadRequest:
        return username


def limit_failures(verify_password):
    @wraps(verify_password)
    def checked(username: str, password: str):
        credentials = request.authorization
        if not current_app.config["RATELIMIT_ENABLED"] or credentials is None:
            return verify_password(username, password)
        if credentials.type != "basic":
            return verify_password(username, password)
        name = counted_name(username)
        windows = [
            (item, (setting, key), words)
            for setting, key, words in (
                ("FAILED_LOGINS_PER_USERNAME", name, "for this username"),
                ("FAILED_LOGINS_PER_ADDRESS", client_address(), "from your address"),
            )
            for item in parse_many(current_app.config[setting])
        ]
        with GUARD:
            lock = NAME_LOCKS.setdefault(name, threading.Lock())
        with lock:
            with GUARD:
                full = []
                for item, keys, words in windows:
                    stats = ask("get_window_stats", item, keys)
                    if stats.remaining - UNCOUNTED[keys] < 1:
                        wait = stats.reset_time if stats.remaining < 1 else time.time() + 1
                        full.append((wait, words))
                if not full:
                    UNCOUNTED.update(keys for _, keys, _ in windows)
            if full:
                reset_at, words = max(full)
                seconds = max(1, int(reset_at - time.time() + 0.999))
                raise TooManyRequests(
                    f"Too many failed logins {words}: wait {seconds} seconds.",
                    retry_after=seconds,
                )
            try:
                user = verify_password(username, password)
                if user is None:
                    for item, keys, _ in windows:
                        ask("hit", item, keys)
            finally:
                with GUARD:
                    UNCOUNTED.subtract(keys for _, keys, _ in windows)
                    for key in [key for key, count in UNCOUNTED.items() if count <= 0]:
                        del UNCOUNTED[key]
        return user

    return checked
