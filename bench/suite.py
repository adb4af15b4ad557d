"""Time the feedback loops a learner waits for: `make test`, per step, and `make check`.

A script measures these, never a test: timing assertions fail on slow machines.
Run alone with `python -m bench.suite`, or through `make bench SUITE=1`.
`make check STEP=n` is timed on a finished exercise: a copy made by `make exercise`
in a temporary folder, with the solution's code put in it.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from steps import STEPS
from tests.live import ROOT

# What each command should take on a 2-core machine, in seconds (issue 6).
LIMITS = {"test": 90, "test STEP": 45, "check STEP": 10}


def environment() -> dict[str, str]:
    # Variables given to `make bench` must not narrow or change the commands timed here.
    ignored = {"MAKEFLAGS", "MAKELEVEL", "MFLAGS", "STEP", "WORKERS", "SUITE", "WORKSHOP"}
    env = {key: value for key, value in os.environ.items() if key not in ignored}
    if sys.prefix != sys.base_prefix:  # the same virtualenv as this script
        env["VIRTUAL_ENV"] = sys.prefix
    return env


def make(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *arguments],
        env=environment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )


def finished_exercises(workshop: Path) -> bool:
    """Start every exercise in `workshop`, then solve it with the solution's code."""
    for number, step in enumerate(STEPS, start=1):
        if make("exercise", f"STEP={number}", f"WORKSHOP_DIR={workshop}").returncode != 0:
            return False
        for source in (ROOT / step).glob("*.py"):
            shutil.copy(source, workshop / step / source.name)
    return True


def time_command(kind: str, step: int | None, *extra: str) -> dict:
    target = kind.split()[0]
    variables = [f"STEP={step}"] if step else []
    command = " ".join(["make", target, *variables])
    print(f"Timing `{command}` ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    result = make(target, *variables, *extra)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-3000:], sep="\n", file=sys.stderr)
    return {
        "command": command,
        "seconds": round(seconds, 1),
        "limit_seconds": LIMITS[kind],
        "passed": result.returncode == 0,
        "met": result.returncode == 0 and seconds < LIMITS[kind],
    }


def time_suite() -> list[dict]:
    numbers = range(1, len(STEPS) + 1)
    rows = [time_command("test", None)]
    rows += [time_command("test STEP", n) for n in numbers]
    if make("-n", "check").returncode != 0:
        print("There is no `make check` target: not timed.", file=sys.stderr)
        return rows
    with tempfile.TemporaryDirectory(prefix="bench-workshop-") as folder:
        if not finished_exercises(Path(folder)):
            print("`make exercise` failed: `make check` not timed.", file=sys.stderr)
            return rows
        rows += [time_command("check STEP", n, f"WORKSHOP_DIR={folder}") for n in numbers]
    return rows


def print_suite(rows: list[dict]) -> None:
    print(f"\n{'command':24}{'seconds':>9}{'limit':>7}  result")
    for row in rows:
        outcome = "met" if row["met"] else ("too slow" if row["passed"] else "FAILED")
        print(f"{row['command']:24}{row['seconds']:>9.1f}{row['limit_seconds']:>7}  {outcome}")


if __name__ == "__main__":
    print_suite(time_suite())
