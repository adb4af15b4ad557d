"""The app's settings: defaults here, FLASK_<NAME> variables at start, then a test's config."""

import os

from flask import Flask
from limits import parse_many

KINDS = {bool: "true or false", int: "a whole number", str: "text", dict: "a JSON object"}


def configure(app: Flask, test_config: dict | None = None) -> None:
    """Set the app's settings, or raise ValueError naming a FLASK_ variable of the wrong kind."""
    defaults = dict(
        # A relative SQLite path lands in the instance folder: one file per step.
        SQLALCHEMY_DATABASE_URI=os.environ.get("DATABASE_URL", f"sqlite:///{__package__}.sqlite"),
        # No bound parameter (a password hash, say) in any error message or log line, and
        # a pooled connection is tested before use, so a restarted database just works.
        SQLALCHEMY_ENGINE_OPTIONS={"hide_parameters": True, "pool_pre_ping": True},
        MAX_CONTENT_LENGTH=16 * 1024,
        TOKEN_LIFETIME=60 * 60,  # seconds; RFC 6750 §5.3 recommends an hour or less
        # Limits in Flask-Limiter's notation, counted in moving windows (limits.py).
        FAILED_LOGINS_PER_USERNAME="10 per 10 minutes; 100 per day",
        FAILED_LOGINS_PER_ADDRESS="50 per 10 minutes",
        REGISTRATIONS_PER_ADDRESS="20 per hour",
        RATELIMIT_STRATEGY="moving-window",  # no double burst at a window's edge
        # memory:// counts in this process; with several workers, a store they share:
        # FLASK_RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379 (make redis starts one).
        RATELIMIT_STORAGE_URI="memory://",
        # redis-py's time limits, in seconds, to connect to the store and for each call, and
        # no retry: a store that does not answer in time is left for the process's memory
        # (counts.py). Without them, a stalled Redis holds every password request.
        RATELIMIT_STORAGE_OPTIONS={
            "socket_connect_timeout": 0.2,
            "socket_timeout": 0.2,
            "retry": None,
        },
        RATELIMIT_ENABLED=True,  # false for a load test only, never in production
        # Behind a proxy you run, true takes the client's address from the one entry of
        # X-Forwarded-For that the proxy added (and no other header of it).
        BEHIND_PROXY=False,
    )
    app.config.from_mapping(defaults)
    # FLASK_TOKEN_LIFETIME=2 sets TOKEN_LIFETIME when the server starts, read as JSON
    # (here the number 2). A wrong value stops the start, not a request later.
    app.config.from_prefixed_env()
    for name, default in defaults.items():
        value = app.config[name]
        if type(value) is not type(default) or (type(value) is int and value <= 0):
            wanted = KINDS[type(default)] + (" above 0" if type(default) is int else "")
            raise ValueError(f"FLASK_{name} must be {wanted}, not {value!r}.")
    # The limits (NAME_PER_...), read now, so that one written wrong stops the start too.
    for name in [setting for setting in defaults if "_PER_" in setting]:
        try:
            parse_many(app.config[name])
        except ValueError:
            wanted = "limits such as '10 per 10 minutes; 100 per day'"
            raise ValueError(f"FLASK_{name} must be {wanted}, not {app.config[name]!r}.") from None
    if test_config is not None:
        app.config.update(test_config)
