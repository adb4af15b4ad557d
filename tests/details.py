"""How the tests judge a problem's `detail`: the solution's words, or a learner's own.

The tests pin the solution's wording: `"JSON object" in detail`, `detail == "..."`. A
learner's copy, which `make check` tests by setting STEPS_ROOT, is judged on what its detail
says, not on our words: assert_problem (tests/helpers.py) then gives the tests the detail
as a `Detail`, whose checks pass when the words are there, or when the detail
- is a sentence: two words or more, ending with a full stop, a question or an exclamation
  mark;
- is not Werkzeug's default description of the status (what a bare `abort(400)` says);
- names what the solution's words name in quotes: the field ('username', 'password'), or
  the name that is taken.
One word alone stays exact: an id, a code point or a header's name is a fact, not wording,
and so a check that a detail does not say something (`"U+" not in detail`) keeps its
meaning. Status codes, headers, body fields and stored state are checked as they are.
"""

import os
import re

from werkzeug.exceptions import default_exceptions

LEARNER_COPY = bool(os.environ.get("STEPS_ROOT"))


class Detail(str):
    """A learner's problem detail: `in`, `==`, startswith and endswith judge what it says."""

    def __new__(cls, text: str, status: int):
        detail = super().__new__(cls, text)
        detail.status = status
        return detail

    def shortfalls(self, words: str) -> list[str]:
        """What this detail lacks to say what `words` say in its own way (nothing: it does)."""
        text = " ".join(self.split())
        missing = []
        if len(text.split()) < 2 or not text.endswith((".", "!", "?")):
            missing.append("is a sentence (two words or more, ending with a full stop)")
        default = default_exceptions.get(self.status)
        if default and text == " ".join(default.description.split()):
            missing.append(f"is your own, not Werkzeug's default for {self.status}")
        for name in re.findall(r"'([^']+)'", words):
            if not re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE):
                missing.append(f"names {name!r}")
        return missing

    def says(self, words: str, exact) -> bool:
        """Whether the exact check passes, or else the detail says the same its own way."""
        if not isinstance(words, str):
            return exact
        return exact or (len(words.split()) > 1 and not self.shortfalls(words))

    def wanted(self, words: str) -> str:
        """What a failed check expected, in words."""
        if len(words.split()) < 2:
            return f"a detail that says {words!r}"
        return "a detail that " + " and ".join(self.shortfalls(words) or [f"says {words!r}"])

    def __contains__(self, words: str) -> bool:
        return self.says(words, str.__contains__(self, words))

    def __eq__(self, other) -> bool:
        exact = str.__eq__(self, other)
        return exact is True or (isinstance(other, str) and self.says(other, False))

    def __ne__(self, other) -> bool:
        return not self == other

    __hash__ = str.__hash__

    def startswith(self, prefix, *args) -> bool:
        return self.says(prefix, str.startswith(self, prefix, *args))

    def endswith(self, suffix, *args) -> bool:
        return self.says(suffix, str.endswith(self, suffix, *args))


def explain(op: str, left, right) -> list[str] | None:
    """pytest's explanation of a failed `words in detail` or `detail == words` when the
    detail is a learner's (conftest's pytest_assertrepr_compare); None for anything else."""
    if op in ("in", "not in") and isinstance(right, Detail) and isinstance(left, str):
        detail, words = right, left
    elif op == "==" and isinstance(left, Detail) and isinstance(right, str):
        detail, words = left, right
    else:
        return None
    wanted = detail.wanted(words) if op != "not in" else f"a detail that does not say {words!r}"
    return [wanted, f"the detail: {str(detail)!r}"]


def wanted(detail: str, alternatives: tuple[str, ...]) -> str:
    """What a detail that says none of the alternatives was expected to say."""
    if isinstance(detail, Detail):
        return " or ".join(detail.wanted(words) for words in alternatives)
    return f"a detail saying {' or '.join(map(repr, alternatives))}, not {detail!r}"
