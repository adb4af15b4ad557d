"""One cheap PassLib configuration for the tests, and the app a test server serves with it.

PassLib's custom_app_context spends about a second on every sha512_crypt hash on
a small machine, on purpose. Most tests only need *a* valid hash, so they use the
same scheme with 1,000 rounds instead of 656,000; step 8's own context (argon2id, with
sha512_crypt deprecated) keeps its schemes, at their least costs. Tests marked
`real_cost` (and the benchmarks) keep the real default. The step code is never changed
for this: the `app` fixture (conftest.py) replaces each step module's `pwd_context` in
the test's process, and `cheap_app` does the same in a test server's process.
"""

import functools
import sys

from flask import Flask
from flask.cli import locate_app
from passlib.context import CryptContext

CHEAP_SETTINGS = {"schemes": ["sha512_crypt"], "sha512_crypt__default_rounds": 1000}
# The costs of a step's own context with argon2 (step 8): argon2's least memory (8 KiB) and
# one pass instead of 19 MiB and two, and sha512_crypt's 1,000 rounds as above.
CHEAP_COSTS = {
    "sha512_crypt__default_rounds": 1000,
    "argon2__memory_cost": 8,
    "argon2__time_cost": 1,
}


@functools.cache
def cheap_context(real: CryptContext | None = None) -> CryptContext:
    """The cheap stand-in for a step's context, one per context (nothing changes a
    CryptContext once it is made): for PassLib's custom_app_context (steps 2 to 7), or
    without `real`, the cheap sha512_crypt above; for a context with argon2, a copy with
    the same schemes at the costs of CHEAP_COSTS."""
    if real is None or "argon2" not in real.schemes():
        return CryptContext(**CHEAP_SETTINGS)
    schemes = real.schemes()
    return real.copy(**{k: v for k, v in CHEAP_COSTS.items() if k.split("__")[0] in schemes})


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
            loaded.pwd_context = cheap_context(loaded.pwd_context)
    return app
