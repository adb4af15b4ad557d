"""The steps of the tutorial, found by their folders: `step<N>_<name>/` at the top of the
repository, numbered from 1 without a gap. Nothing else lists them.

The tests, the benchmarks, the notebooks' step check and the workshop tool import this
module (the Makefile finds the same folders with its own wildcard). It uses the standard
library only, so a server process or a notebook kernel can import it without pytest.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent
FOLDER = re.compile(r"step([1-9][0-9]*)_[a-z][a-z0-9_]*")


def find_steps(root: Path = ROOT) -> tuple[str, ...]:
    """The step folders under root, in the order of their numbers (step10 after step9).

    Raises ValueError when two folders have one number, or when a number is missing.
    """
    found: dict[int, str] = {}
    for path in root.iterdir():
        match = FOLDER.fullmatch(path.name)
        if not (match and path.is_dir()):
            continue
        number = int(match[1])
        if number in found:
            raise ValueError(f"two folders for step {number}: {found[number]}/ and {path.name}/")
        found[number] = path.name
    missing = sorted(set(range(1, max(found, default=0) + 1)) - set(found))
    if missing:
        raise ValueError(
            f"no folder for step {missing[0]}: the steps are numbered from 1 without a gap"
        )
    return tuple(found[number] for number in sorted(found))


STEPS = find_steps()
LAST = len(STEPS)


def number_of(folder: str) -> int:
    """A step's number, from its folder's name (`step3_registration` is 3)."""
    match = FOLDER.fullmatch(folder)
    if not match:
        raise ValueError(f"{folder!r} is not a step folder's name (step<N>_<name>)")
    return int(match[1])


def folder_of(number: int) -> str:
    """A step's folder, from its number."""
    if not 1 <= number <= LAST:
        raise ValueError(f"there is no step {number}: the steps are 1 to {LAST}")
    return STEPS[number - 1]


def numbers_from(first: int, until: int | None = None) -> range:
    """The steps from `first` on (up to `until`, when a later step changes what held)."""
    return range(first, (LAST if until is None else min(until, LAST)) + 1)
