"""Time the feedback loops a learner waits for: `make test`, per step, and `make check`.

A script measures these, never a test: timing assertions fail on slow machines.
Run alone with `python -m bench.suite`, or through `make bench SUITE=1`.
`make check STEP=n` is timed on a finished exercise: a copy made by `make exercise`
in a temporary folder, with the solution's code put in it.

It also says what each step costs the whole `make test`: the tests that ran against it and
their seconds, summed over pytest's workers (from a JUnit XML report of that run). A new
step should add about its own tests, not a rerun of every earlier step's.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
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


def make(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *arguments],
        env={**environment(), **(env or {})},
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


def time_command(kind: str, step: int | None, *extra: str, env: dict | None = None) -> dict:
    target = kind.split()[0]
    variables = [f"STEP={step}"] if step else []
    command = " ".join(["make", target, *variables])
    print(f"Timing `{command}` ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    result = make(target, *variables, *extra, env=env)
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


def step_of(name: str) -> str:
    """The step a test ran against, from its parameters' id ("...[case-step3_registration]",
    "...[step6-serve]"), or "" for a test of no one step."""
    found = re.search(r"[\[-](step\d+)(?:_\w+)?(?=[-\]/])", name)
    return found[1] if found else ""


def per_step(report: Path) -> dict[str, dict]:
    """Tests and their seconds (setup, call and teardown), by the step they ran against."""
    steps: dict[str, dict] = {}
    for case in ET.parse(report).iter("testcase"):
        row = steps.setdefault(step_of(case.get("name", "")), {"tests": 0, "seconds": 0.0})
        row["tests"] += 1
        row["seconds"] += float(case.get("time", 0))
    order = [f"step{n}" for n in range(1, len(STEPS) + 1)] + [""]
    return {step: steps[step] for step in order if step in steps}


def time_suite() -> tuple[list[dict], dict[str, dict]]:
    """The commands' times, and what each step costs the whole `make test`."""
    numbers = range(1, len(STEPS) + 1)
    with tempfile.TemporaryDirectory(prefix="bench-junit-") as folder:
        report = Path(folder) / "make-test.xml"
        rows = [time_command("test", None, env={"PYTEST_ADDOPTS": f"--junitxml={report}"})]
        steps = per_step(report) if report.exists() else {}
    rows += [time_command("test STEP", n) for n in numbers]
    if make("-n", "check").returncode != 0:
        print("There is no `make check` target: not timed.", file=sys.stderr)
        return rows, steps
    with tempfile.TemporaryDirectory(prefix="bench-workshop-") as folder:
        if not finished_exercises(Path(folder)):
            print("`make exercise` failed: `make check` not timed.", file=sys.stderr)
            return rows, steps
        rows += [time_command("check STEP", n, f"WORKSHOP_DIR={folder}") for n in numbers]
    return rows, steps


def print_suite(rows: list[dict], steps: dict[str, dict]) -> None:
    print(f"\n{'command':24}{'seconds':>9}{'limit':>7}  result")
    for row in rows:
        outcome = "met" if row["met"] else ("too slow" if row["passed"] else "FAILED")
        print(f"{row['command']:24}{row['seconds']:>9.1f}{row['limit_seconds']:>7}  {outcome}")
    if steps:
        print("\nWhat each step costs `make test`: the tests run against it, their seconds")
        print("summed over pytest's workers")
        for step, row in steps.items():
            print(f"{step or 'no one step':24}{row['tests']:>9}{row['seconds']:>9.1f}")


if __name__ == "__main__":
    print_suite(*time_suite())
