"""What importing each step costs beyond importing the libraries it uses.

Importing a step should do nothing but define its code: no password hash (which takes about a
second), no connection. Each figure is the median of a few fresh interpreters, each timing
one import from its start: the step's libraries (every module its files import by name),
or the step package and each of its modules. The target: at most 0.25 s more.
"""

import ast
import statistics
import subprocess
import sys

from tests.live import ROOT

RUNS = 5
TARGET_SECONDS = 0.25
TIMED = "import time; start = time.perf_counter(); {imports}; print(time.perf_counter() - start)"


def steps() -> list[str]:
    """The step packages, found by their folders: step<N>_<name>/ holding an __init__.py."""
    found = [path.parent.name for path in ROOT.glob("step*_*/__init__.py")]
    return sorted(found, key=lambda name: int(name.removeprefix("step").split("_")[0]))


def libraries_of(step: str) -> list[str]:
    """Every module that the step's files import by name (not their relative imports)."""
    names = set()
    for path in (ROOT / step).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module)
    return sorted(names)


def modules_of(step: str) -> list[str]:
    return [step] + [f"{step}.{path.stem}" for path in (ROOT / step).glob("[!_]*.py")]


def seconds(modules: list[str]) -> float:
    code = TIMED.format(imports="; ".join(f"import {name}" for name in modules))
    command = [sys.executable, "-c", code]
    return float(
        subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    )


def benchmark() -> list[dict]:
    print(f"Timing the import of each step ({RUNS} fresh runs each) ...", file=sys.stderr)
    rows = []
    for step in steps():
        libraries, whole = [], []
        for _ in range(RUNS):  # in turns, so that a busier moment weighs on both alike
            libraries.append(seconds(libraries_of(step)))
            whole.append(seconds(modules_of(step)))
        libraries_s, step_s = statistics.median(libraries), statistics.median(whole)
        rows.append({"step": step, "libraries_s": libraries_s, "step_s": step_s})
    return rows


def print_imports(rows: list[dict]) -> None:
    print(f"\nImporting each step, median of {RUNS} fresh interpreters:")
    print(f"  {'step':20}{'libraries':>11}{'step':>9}{'more':>9}  target")
    for row in rows:
        more = row["step_s"] - row["libraries_s"]
        outcome = "met" if more <= TARGET_SECONDS else "NOT met"
        print(
            f"  {row['step']:20}{row['libraries_s']:10.3f}s{row['step_s']:8.3f}s"
            f"{more:8.3f}s  <= {TARGET_SECONDS} s: {outcome}"
        )
