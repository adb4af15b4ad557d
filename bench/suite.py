"""Time the feedback loops a learner waits for: `make test`, per step, and `make check`.

A script measures these, never a test: timing assertions fail on slow machines.
Run alone with `python -m bench.suite`, or through `make bench SUITE=1`.
"""

import os
import subprocess
import sys
import time

from tests.live import ROOT

# What each command should take on a 2-core machine, in seconds (issue 6).
LIMITS = {"test": 90, "test STEP": 45, "check STEP": 10}
STEP_NUMBERS = (1, 2, 3, 4)


def has_target(target: str) -> bool:
    """Whether the Makefile has this target (make -n prints but runs nothing)."""
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "-n", target, "STEP=1"],
        env=environment(),
        capture_output=True,
    )
    return result.returncode == 0


def environment() -> dict[str, str]:
    # Variables given to `make bench` must not narrow or change the commands timed here.
    ignored = {"MAKEFLAGS", "MAKELEVEL", "MFLAGS", "STEP", "WORKERS", "SUITE"}
    env = {key: value for key, value in os.environ.items() if key not in ignored}
    if sys.prefix != sys.base_prefix:  # the same virtualenv as this script
        env["VIRTUAL_ENV"] = sys.prefix
    return env


def commands() -> list[tuple[str, list[str]]]:
    found = [("test", [])]
    found += [("test STEP", [f"STEP={n}"]) for n in STEP_NUMBERS]
    if has_target("check"):
        found += [("check STEP", [f"STEP={n}"]) for n in STEP_NUMBERS]
    else:
        print("There is no `make check` target yet: not timed.", file=sys.stderr)
    return found


def time_suite() -> list[dict]:
    rows = []
    for kind, variables in commands():
        target = kind.split()[0]
        command = " ".join(["make", target, *variables])
        print(f"Timing `{command}` ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        result = subprocess.run(
            ["make", "--no-print-directory", "-C", str(ROOT), target, *variables],
            env=environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            print(result.stdout[-3000:], result.stderr[-3000:], sep="\n", file=sys.stderr)
        rows.append(
            {
                "command": command,
                "seconds": round(seconds, 1),
                "limit_seconds": LIMITS[kind],
                "passed": result.returncode == 0,
                "met": result.returncode == 0 and seconds < LIMITS[kind],
            }
        )
    return rows


def print_suite(rows: list[dict]) -> None:
    print(f"\n{'command':24}{'seconds':>9}{'limit':>7}  result")
    for row in rows:
        outcome = "met" if row["met"] else ("too slow" if row["passed"] else "FAILED")
        print(f"{row['command']:24}{row['seconds']:>9.1f}{row['limit_seconds']:>7}  {outcome}")


if __name__ == "__main__":
    print_suite(time_suite())
