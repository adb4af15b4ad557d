"""Throttling with Flask-Limiter and `limits`: failed logins per username and per address,
and registrations per address, counted in moving windows (settings.py sets the limits)."""

import math
import time
from functools import wraps

from flask import current_app, request
from flask_limiter import Limiter
from limits import parse_many
from werkzeug.exceptions import BadRequest, TooManyRequests

from .counts import CHECKS, PENDING, Windows, client_address, no_longer_pending, one_at_a_time
from .credentials import prepare

# Its settings are RATELIMIT_* in settings.py: create_app calls limiter.init_app(app), which
# makes the store and its moving-window strategy, then windows.init_app(app).
limiter = Limiter(client_address)
windows = Windows(limiter)

# NFC composes at most four code points into one (U+1FAF, say), so a longer name can never
# prepare to an account's 32 characters: such names are counted together, unprepared.
LONGEST_NAME = 4 * 32
TOO_LONG = "(longer than any account's name)"


def too_many(what: str, reset_at: float) -> TooManyRequests:
    """A 429 that says what is limited and, in seconds, when a retry can succeed (RFC 6585
    §4): the first whole second after `reset_at`, when each full window has room again."""
    seconds = max(1, math.floor(reset_at - time.time()) + 1)
    return TooManyRequests(f"{what}. Try again in {seconds} seconds.", retry_after=seconds)


def username_key(username: str) -> str:
    """The name as registration stores it (RFC 8265): "ａｌｉｃｅ" counts as "alice"."""
    if len(username) > LONGEST_NAME:  # no work in proportion to its length
        return TOO_LONG
    try:
        return prepare("username", username, "UsernameCasePreserved", 1, 32)
    except BadRequest:  # no account can have it: counted as sent
        return username


def windows_of(setting: str, key: str, whose: str):
    """Each moving window of a setting: (window, its keys, whose count it is)."""
    for item in parse_many(current_app.config[setting]):
        yield item, (setting, key), whose


def full_windows(counted: list) -> list:
    """The windows that one more request would overfill, counting the pending guesses as
    failures: (when each has room again, as a time.time() value, whose count it is)."""
    full = []
    for item, keys, whose in counted:
        if windows.test(item, *keys, cost=1 + PENDING[keys]):
            continue
        if windows.test(item, *keys):  # only guesses still running fill it
            full.append((time.time(), whose))  # room again once they are answered
        else:
            full.append((windows.get_window_stats(item, *keys).reset_time, whose))
    return full


def limit_registrations(view):
    """Wrap a route: a 429 while the client's address is over REGISTRATIONS_PER_ADDRESS;
    any other request counts in each of its windows, whatever its answer."""

    @wraps(view)
    def limited(*args, **kwargs):
        if current_app.config["RATELIMIT_ENABLED"]:
            address = client_address()
            counted = list(windows_of("REGISTRATIONS_PER_ADDRESS", address, "from your address"))
            with CHECKS:  # every window is checked, then counted: a 429 takes no place
                full = full_windows(counted)
                if not full:
                    for item, keys, _ in counted:
                        windows.hit(item, *keys)
            if full:  # retry once every full window has room again
                reset_at, whose = max(full)
                raise too_many(f"Too many registrations {whose}", reset_at)
        return view(*args, **kwargs)

    return limited


def limit_failures(verify_password, in_body: bool = False):
    """Wrap the password check: a 429, before any hash, while the username or the client's
    address has too many recent failures; each refused password counts against both."""
    # The password is HTTP Basic's, if the request sent one; or with in_body, one in the
    # body (a change's current password), which counts whatever the credentials are.

    @wraps(verify_password)
    def checked(username: str, password: str):
        credentials = request.authorization  # None, as for Flask-HTTPAuth, if malformed
        enabled = current_app.config["RATELIMIT_ENABLED"]
        sent = in_body or (credentials is not None and credentials.type == "basic")
        if not sent or not enabled:
            return verify_password(username, password)  # no password sent: not an attempt
        name = username_key(username)
        counted = list(windows_of("FAILED_LOGINS_PER_USERNAME", name, "for this username"))
        counted += windows_of("FAILED_LOGINS_PER_ADDRESS", client_address(), "from your address")
        keys = {keys for _, keys, _ in counted}
        # Checked, verified and counted one guess per name at a time (counts.py): at
        # once, twenty guesses would all pass the check before the first is counted.
        with one_at_a_time(name):
            # Guesses for other names, from the same address, run at once: a check counts
            # those that passed theirs and are not counted yet (pending) as failures.
            with CHECKS:
                full = full_windows(counted)
                if not full:
                    PENDING.update(keys)
            if full:  # retry once every full window has room again
                reset_at, whose = max(full)
                raise too_many(f"Too many failed logins {whose}", reset_at)
            try:
                user = verify_password(username, password)
                if user is None:
                    for item, window_keys, _ in counted:
                        windows.hit(item, *window_keys)
            finally:
                no_longer_pending(keys)
        return user

    return checked
