"""Makes PassLib cheap in a test server process (see tests/hashing.py).

Python imports `sitecustomize` at start-up from the first folder on sys.path that
has one. tests/live.py puts this folder on PYTHONPATH of the servers it starts,
unless a test asks for the real cost, so the server runs the unchanged step code
with a cheaper custom_app_context; tests/test_notebooks.py does the same for the
notebook kernels. `tests.hashing` is found through the repository on sys.path: on
PYTHONPATH for the servers, through the environment's .pth file for the kernels.
"""

from passlib.apps import custom_app_context

from tests.hashing import CHEAP_SETTINGS

custom_app_context.load(CHEAP_SETTINGS)
