"""The test suite (conftest.py holds its fixtures). Nothing is imported here: the test
servers and notebook kernels import tests.hashing, and pytest would add a tenth of a second
to each start."""
