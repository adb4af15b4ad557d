"""One cheap PassLib configuration for the tests, and the app a test server serves with it.

PassLib's custom_app_context spends about a second on every sha512_crypt hash on
a small machine, on purpose. Most tests only need *a* valid hash, so they use the
same scheme with 1,000 rounds instead of 656,000; tests marked `real_cost` (and
the benchmarks) keep the real default. The step code is never changed for this: the
`app` fixture (conftest.py) replaces each step module's `pwd_context` in the test's
process, and `cheap_app` does the same in a test server's process.
"""

import functools
import sys

from flask import Flask
from flask.cli import locate_app
from passlib.context import CryptContext

CHEAP_SETTINGS = {"schemes": ["sha512_crypt"], "sha512_crypt__default_rounds": 1000}


@functools.cache
def cheap_context() -> CryptContext:
    """One shared context: nothing changes a CryptContext once it is made."""
    return CryptContext(**CHEAP_SETTINGS)


def cheap_app(factory: str) -> Flask:
    """The app that `factory` builds (`module:create_app(...)`, as Flask's --app and gunicorn
    read it), with the cheap context in every module of its step that hashes.

    tests/live.py starts `make run` and `make serve` with APP_WRAPPER=tests.hashing:cheap_app,
    so a test server runs the learner's command on the step's own code, hashing cheaply.
    """
    module, _, call = factory.partition(":")
    app = locate_app(module, call)
    step = app.import_name  # the step's package, whose create_app made the app
    for name, loaded in list(sys.modules.items()):
        if (name == step or name.startswith(f"{step}.")) and hasattr(loaded, "pwd_context"):
            loaded.pwd_context = cheap_context()
    return app
