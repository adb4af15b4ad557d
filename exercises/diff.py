"""`make diff`: what a step adds to the step before it, the lesson first.

    python -m exercises.diff STEP [--api]
    python -m exercises.diff STEP --workshop FOLDER

The files of the step's concept (the manifest's `concept`, which its exercise asks for)
come first, in the order the step teaches them; then, under a one-line header, the rest
that the step adds or changes whole (hardening, settings). The step's openapi.yaml only
with --api. With --workshop, a learner's copy against the solution: the concept files only,
since the starter gives every other file whole. Each file is compared by `diff -uN`.

Standard library only, like the step folders it reads: `make diff` needs no environment.
"""

import argparse
import subprocess
import sys
from pathlib import Path

from exercises.workshop import step_entry
from steps import ROOT, STEPS

DESCRIPTION = "openapi.yaml"
NOT_COMPARED = {"README.md"}  # prose: read the step's README itself


def files_of(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir() if path.is_file()} if folder.is_dir() else set()


def compare(old: Path, new: Path, names: list[str]) -> int:
    """Print `diff -uN` of each file; return 2 when diff had trouble, else 0."""
    status = 0
    for name in names:
        sys.stdout.flush()
        result = subprocess.run(["diff", "-uN", str(old / name), str(new / name)], cwd=ROOT)
        status = max(status, 2 if result.returncode > 1 else 0)
    return status


def relative(path: Path) -> Path:
    """A folder as diff's headers show it: relative to the repository when inside it."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def step_diff(number: int, api: bool) -> int:
    entry, new = step_entry(number), ROOT / STEPS[number - 1]
    old = ROOT / STEPS[number - 2]
    names = files_of(old) | files_of(new)
    changed = sorted(
        name
        for name in names - NOT_COMPARED
        if not (old / name).is_file()
        or not (new / name).is_file()
        or (old / name).read_bytes() != (new / name).read_bytes()
    )
    concept = [name for name in entry["concept"] if name in changed]
    rest = [name for name in changed if name not in concept and name != DESCRIPTION]
    print(f"# Step {number}'s concept, what its exercise asks for: {', '.join(concept)}")
    status = compare(relative(old), relative(new), concept)
    if rest:
        print(f"# The rest, which step {number}'s exercise gives whole: {', '.join(rest)}")
        status = max(status, compare(relative(old), relative(new), rest))
    if DESCRIPTION in changed and api:
        print(f"# Step {number}'s API description")
        status = max(status, compare(relative(old), relative(new), [DESCRIPTION]))
    elif DESCRIPTION in changed:
        print(f"# {DESCRIPTION} changes too: make diff STEP={number} API=1 shows it")
    return status


def workshop_diff(number: int, workshop: Path) -> int:
    entry = step_entry(number)
    copy, solution = workshop / STEPS[number - 1], ROOT / STEPS[number - 1]
    concept = entry["concept"]
    print(f"# Your {', '.join(concept)} against the solution's (the other files came whole)")
    return compare(relative(copy), relative(solution), concept)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exercises.diff", description=__doc__)
    parser.add_argument("step", type=int)
    parser.add_argument("--api", action="store_true", help=f"also compare {DESCRIPTION}")
    parser.add_argument("--workshop", type=Path, help="compare the copy in this folder")
    args = parser.parse_args(argv)
    if args.workshop:
        return workshop_diff(args.step, args.workshop.resolve())
    if args.step == 1:
        print(f"Step 1 is the first step: read {STEPS[0]}/ itself.", file=sys.stderr)
        return 2
    return step_diff(args.step, args.api)


if __name__ == "__main__":
    sys.exit(main())
