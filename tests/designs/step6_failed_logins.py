"""Another learner's limit on failed logins, for a copy of step 6: put in its package as
failed_logins.py, and imported at the end of its limits.py, it replaces limit_failures with
a design of its own (tests/test_workshop.py runs step 6's checks on it).

Where the solution asks each window whether one more failure fits, this design reads how
much room each window has left (get_window_stats). It takes its turns per name from a set
of busy names and one condition, keeps its own count of guesses not counted yet, and, when
the store fails, counts in a memory of its own: the rest of the request at once, and the
whole app until it asks the store again. It keeps all of this per app. It uses only what a
learner's copy keeps by its TODOs: `limiter`, client_address() of counts.py and prepare()
of credentials.py.
"""

import threading
import time
from collections import Counter
from contextlib import contextmanager
from functools import wraps
from operator import methodcaller

from flask import current_app, g, request
from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from werkzeug.exceptions import BadRequest, TooManyRequests

from .counts import client_address
from .credentials import prepare
from .limits import limiter  # limits.py imports this module at its end, once it has it

__all__ = ["limit_failures"]  # what it replaces in limits.py

STORE_AWAY = 10  # seconds counted in memory after the store fails, before asking it again
LONG_NAME = 4 * 32  # code points: NFC joins at most four into one, so no account has more
LONG_NAME_KEY = "(too long for any account)"
MAKING = threading.Lock()  # one app's state is made once


class FailedLogins:
    """What this design keeps for one app."""

    def __init__(self):
        self.turns = threading.Condition()  # guards `busy`: one guess per name at a time
        self.busy: set[str] = set()
        self.checking = threading.Lock()  # guards `uncounted`: one check at a time
        self.uncounted: Counter = Counter()  # window keys: guesses let through, not counted
        self.memory = MovingWindowRateLimiter(MemoryStorage())
        self.store_lock = threading.Lock()  # guards the two below
        self.store_failed = False  # since the store last answered
        self.ask_store_at = 0.0  # a time.time() value

    @contextmanager
    def turn(self, name: str):
        with self.turns:
            while name in self.busy:
                self.turns.wait()
            self.busy.add(name)
        try:
            yield
        finally:
            with self.turns:
                self.busy.discard(name)
                self.turns.notify_all()

    def windows(self):
        """The strategy that counts this request: the store's, or the memory's while the
        store is away, and for the rest of a request in which a call on it failed."""
        if g.get("failed_logins_in_memory") or time.time() < self.ask_store_at:
            return self.memory
        return limiter.limiter

    def use(self, call: methodcaller):
        """call(strategy), on the store if it answers, else in memory."""
        strategy = self.windows()
        if strategy is self.memory:
            return call(strategy)
        try:
            answer = call(strategy)
        except limiter.storage.base_exceptions:
            with self.store_lock:
                if not self.store_failed:  # one line when it goes, not one per request
                    limiter.logger.warning("The limits' store does not answer: counting in memory")
                self.store_failed, self.ask_store_at = True, time.time() + STORE_AWAY
            g.failed_logins_in_memory = True
            return call(self.memory)
        if self.store_failed:
            with self.store_lock:
                self.store_failed = False
        return answer


def state() -> FailedLogins:
    with MAKING:
        if "failed_logins" not in current_app.extensions:
            current_app.extensions["failed_logins"] = FailedLogins()
        return current_app.extensions["failed_logins"]


def counted_name(username: str) -> str:
    if len(username) > LONG_NAME:  # never prepared: that work grows with the name
        return LONG_NAME_KEY
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
        logins, name = state(), counted_name(username)
        windows = [
            (item, (setting, key), words)
            for setting, key, words in (
                ("FAILED_LOGINS_PER_USERNAME", name, "for this username"),
                ("FAILED_LOGINS_PER_ADDRESS", client_address(), "from your address"),
            )
            for item in parse_many(current_app.config[setting])
        ]
        with logins.turn(name):
            with logins.checking:
                full = []
                for item, keys, words in windows:
                    stats = logins.use(methodcaller("get_window_stats", item, *keys))
                    if stats.remaining - logins.uncounted[keys] < 1:
                        # Full of failures: room once the oldest leaves. Full only with
                        # guesses not counted yet: room as soon as they are answered.
                        full.append((stats.reset_time if stats.remaining < 1 else 0, words))
                if not full:
                    logins.uncounted.update(keys for _, keys, _ in windows)
            if full:
                reset_at, words = max(full)
                # A retry at the very second a window frees still falls inside it.
                seconds = int(max(reset_at - time.time(), 0)) + 1
                raise TooManyRequests(
                    f"Too many failed logins {words}: wait {seconds} seconds.",
                    retry_after=seconds,
                )
            try:
                user = verify_password(username, password)
                if user is None:
                    for item, keys, _ in windows:
                        logins.use(methodcaller("hit", item, *keys))
            finally:
                with logins.checking:
                    logins.uncounted.subtract(keys for _, keys, _ in windows)
                    for keys in [keys for keys, count in logins.uncounted.items() if count < 1]:
                        del logins.uncounted[keys]
        return user

    return checked
