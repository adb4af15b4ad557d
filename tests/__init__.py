"""The test suite. pytest rewrites the asserts of tests.helpers too, so a failing helper
such as assert_problem reports the values it compared."""

import pytest

pytest.register_assert_rewrite("tests.helpers")
