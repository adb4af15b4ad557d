"""The app's settings: defaults here, FLASK_<NAME> variables at start, then a test's config."""

import os

from flask import Flask

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
    if test_config is not None:
        app.config.update(test_config)
