"""One cheap PassLib configuration for the tests.

PassLib's custom_app_context spends about a second on every sha512_crypt hash on
a small machine, on purpose. Most tests only need *a* valid hash, so they use the
same scheme with 1,000 rounds instead of 656,000; tests marked `real_cost` (and
the benchmarks) keep the real default. The step code is never changed for this.
"""

import functools

from passlib.context import CryptContext

CHEAP_SETTINGS = {"schemes": ["sha512_crypt"], "sha512_crypt__default_rounds": 1000}


@functools.cache
def cheap_context() -> CryptContext:
    """One shared context: nothing changes a CryptContext once it is made."""
    return CryptContext(**CHEAP_SETTINGS)


@functools.cache
def cheap_dummy_hash() -> str:
    """A cheap stand-in for a step's DUMMY_HASH, made once: even 1,000 rounds cost
    milliseconds, and the `app` fixture of every test needs one."""
    return cheap_context().hash("a password of nobody")
