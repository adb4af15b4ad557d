"""Workshop mode: `make exercise`, `make check` and `make hint` run this module.

    python -m exercises.workshop exercise STEP [--force]
    python -m exercises.workshop check [STEP]
    python -m exercises.workshop hint STEP [--all]

Starters are generated from the solutions and manifest.toml, never stored. The starter of
step n is the package of step n, except for the files that carry the step's concept: each
of those is step n-1's file (or nothing, when step n adds it) under step n's module
docstring, with the manifest's TODO comments in it. The hardening a step brings comes
whole, so copying the solution's concept files over a starter gives back the solution.
Step 1 has no step before it: its concept files are its own, less the lines `remove` names.
"""

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import unicodedata
from pathlib import Path

from steps import STEPS

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = Path(__file__).with_name("manifest.toml")
WORKSHOP = ROOT / "workshop"
TODO = "# TODO: "
TODO_MORE = "#" + " " * (len(TODO) - 1)  # continuation lines line up with the text
LINE_LENGTH = 99
# The in-process tests only: the real-server and real-cost tests take too long for a check.
IN_PROCESS = "not live and not real_cost"
# The modules that hold them (the ones using steps_from). Collecting the others alone takes
# seconds: they import Jupyter's client and the like.
CHECK_MODULES = ("test_before_*.py", "test_step*_*.py")


def load_steps() -> list[dict]:
    with MANIFEST.open("rb") as file:
        return tomllib.load(file)["step"]


def step_entry(number: int) -> dict:
    """Step n's entry in the manifest, found by the step's folder."""
    if not 1 <= number <= len(STEPS):
        raise SystemExit(f"STEP must be 1 to {len(STEPS)}, not {number}.")
    folder = STEPS[number - 1]
    for entry in load_steps():
        if entry["folder"] == folder:
            return entry
    raise SystemExit(f"exercises/manifest.toml has no [[step]] with folder = {folder!r}.")


def package_files(folder: str) -> dict[str, str]:
    """Every Python file of a step's package, by name."""
    return {path.name: path.read_text() for path in sorted((ROOT / folder).glob("*.py"))}


def find_line(lines: list[str], wanted: str) -> int:
    found = [i for i, line in enumerate(lines) if line.strip() == wanted.strip()]
    if len(found) != 1:
        raise ValueError(f"manifest.toml: {wanted!r} matches {len(found)} lines, not one")
    return found[0]


def docstring_length(lines: list[str]) -> int:
    """How many lines the module docstring that opens a file takes (0 if it has none)."""
    body = ast.parse("\n".join(lines)).body
    first = body[0] if body else None
    is_docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    return first.end_lineno if is_docstring and isinstance(first.value.value, str) else 0


def base_files(number: int) -> dict[str, list[str]]:
    """Step n's starter without its TODOs, file by file (see the module's docstring)."""
    entry = step_entry(number)
    files = {name: text.splitlines() for name, text in package_files(entry["folder"]).items()}
    if number == 1:
        for removal in entry["remove"]:
            lines = files[removal["file"]]
            stop = find_line(lines, removal["to"]) if "to" in removal else len(lines)
            del lines[find_line(lines, removal["from"]) : stop]
    else:
        before = package_files(step_entry(number - 1)["folder"])
        for name in entry["concept"]:
            old = before.get(name, "").splitlines()
            docstring = files[name][: docstring_length(files[name])]
            files[name] = docstring + old[docstring_length(old) :]
    for name in entry["concept"]:
        while files[name] and not files[name][-1].strip():
            files[name].pop()
    return files


def columns(text: str) -> int:
    """How wide text is on a terminal, as ruff counts line length: a wide or fullwidth
    character (Unicode's East Asian Width W or F, such as "ａ") takes two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def wrap(text: str, width: int) -> list[str]:
    """Fill lines up to width (in columns), never breaking inside a `code span`."""
    lines: list[str] = []
    text = " ".join(text.split())  # the manifest's own line breaks, in code spans too
    for word in re.findall(r"`[^`]*`\S*|\S+", text):
        if lines and columns(lines[-1]) + 1 + columns(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def todo_comment(text: str, indent: str) -> list[str]:
    lines = wrap(text, LINE_LENGTH - len(indent) - len(TODO))
    return [indent + (TODO if i == 0 else TODO_MORE) + line for i, line in enumerate(lines)]


def todo_place(lines: list[str], todo: dict) -> tuple[int, str, int]:
    """Where a TODO goes: the index it is inserted at, its indentation, and how many blank
    lines come before it (at the end of a file, as between top-level definitions)."""
    if todo.get("at") == "end":
        return len(lines), "", 1 if len(lines) == docstring_length(lines) else 2
    anchor = todo.get("after", todo.get("before"))
    index = find_line(lines, anchor)
    indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
    if "after" in todo:
        return index + 1, indent + ("    " if anchor.rstrip().endswith(":") else ""), 0
    return index, indent, 0


def numbered_todos(number: int) -> list[tuple[str, dict]]:
    """Step n's TODOs in the order the step teaches them, each with its '(i of n)' text."""
    entry = step_entry(number)
    todos = entry["todo"]
    for todo in todos:
        if todo["file"] not in entry["concept"]:
            raise ValueError(
                f"manifest.toml: a TODO of step {number} in {todo['file']}, "
                "which is not one of the files that carry its concept"
            )
    return [(f"({i} of {len(todos)}) " + todo["text"], todo) for i, todo in enumerate(todos, 1)]


def with_todos(lines: list[str], todos: list[tuple[str, dict]]) -> list[str]:
    """The lines with the TODO comments in them. TODOs that share a place keep their order,
    one blank line apart; those above a top-level definition stand apart from it."""
    places: dict[int, list[tuple[str, int, str]]] = {}
    for text, todo in todos:
        index, indent, blank = todo_place(lines, todo)
        places.setdefault(index, []).append((indent, blank, text))
    result: list[str] = []
    for index in range(len(lines) + 1):
        group = places.get(index, [])
        for i, (indent, blank, text) in enumerate(group):
            result += [""] * max(blank, 1 if i else 0) + todo_comment(text, indent)
        if index == len(lines):
            break
        if group and index and not lines[index][:1].isspace() and not lines[index - 1].strip():
            result += ["", ""]  # above a top-level definition, after the blank lines before it
        result.append(lines[index])
    return result


def starter_files(number: int) -> dict[str, str]:
    """Step n's starter: every file of its package, by name, the TODOs in its concept files."""
    files = base_files(number)
    todos = numbered_todos(number)
    for name in step_entry(number)["concept"]:
        files[name] = with_todos(files[name], [todo for todo in todos if todo[1]["file"] == name])
    return {name: "\n".join(lines) + "\n" for name, lines in files.items()}


def strip_todos(source: str) -> str:
    """The source without its TODO comments (each a `# TODO:` line and its continuations)."""
    kept, in_todo = [], False
    for line in source.splitlines():
        stripped = line.lstrip()
        in_todo = stripped.startswith(TODO) or (in_todo and stripped.startswith(TODO_MORE))
        if not in_todo:
            kept.append(line)
    return "\n".join(kept) + "\n"


def write_starter(number: int, root: Path) -> Path:
    """Write step n's starter package into root/<step folder>/ (which must not exist)."""
    target = root / step_entry(number)["folder"]
    target.mkdir(parents=True)
    for name, source in starter_files(number).items():
        (target / name).write_text(source)
    return target


def create_working_copy(number: int, workshop: Path = WORKSHOP, force: bool = False) -> str:
    """Create workshop/<step folder>/ from the starter; say what happened."""
    folder = step_entry(number)["folder"]
    target = workshop / folder
    kept = ""
    if target.exists():
        if not force:
            raise FileExistsError(
                f"{shown(target)}/ exists already: nothing was changed, your code is safe.\n"
                f"To start step {number} again from its starter: make exercise STEP={number} "
                "FORCE=1 (your copy is kept as a backup next to it)."
            )
        backup = workshop / f"{folder}.backup-{time.strftime('%Y%m%d-%H%M%S')}"
        while backup.exists():
            backup = backup.with_name(backup.name + "-again")
        target.rename(backup)
        kept = f"Your previous copy is now {shown(backup)}/.\n"
    write_starter(number, workshop)
    entry = step_entry(number)
    plan = "\n".join(
        f"  {i}. {todo['file']}: {todo['title']}" for i, todo in enumerate(entry["todo"], 1)
    )
    given = [name for name in package_files(entry["folder"]) if name not in entry["concept"]]
    return (
        f"{kept}Step {number}, {entry['task']}.\n"
        f"Your working copy is {shown(target)}/. Its TODO comments say what to build, in "
        f"this order:\n{plan}\n"
        f"Its other files ({', '.join(given)}) are whole: read them, do not rewrite them.\n"
        f"  make check STEP={number}              test it (as often as you like)\n"
        f"  make hint STEP={number}               one more hint each time\n"
        f"  make run STEP={number} WORKSHOP=1     serve it\n"
        f"  make diff STEP={number} WORKSHOP=1    compare it with the solution, once it passes"
    )


# --- make check ----------------------------------------------------------------------------


def check_modules() -> list[str]:
    return sorted(str(path) for glob in CHECK_MODULES for path in (ROOT / "tests").glob(glob))


def step_marks(number: int) -> str:
    """Step n's in-process tests, including those of earlier steps that it must still pass."""
    return f"step{number} and {IN_PROCESS}"


class CheckRun:
    """The tests that `marks` selects (in `modules`, by default every module of in-process
    step tests), against the steps found in steps_root, in a subprocess.

    The subprocess starts at once, so several runs can go in parallel; they must, since a
    working copy has the package name of its solution. result() waits for the exit status,
    one record per test (see exercises/report.py) and pytest's own output.
    """

    def __init__(
        self, marks: str, steps_root: Path, *pytest_args: str, modules: list[str] | None = None
    ):
        self.scratch = Path(tempfile.mkdtemp())
        self.report = self.scratch / "report.json"
        env = {**os.environ, "STEPS_ROOT": str(steps_root), "WORKSHOP_REPORT": str(self.report)}
        # Plain pytest in one process, on SQLite files: never a shared test database.
        for name in ("PYTEST_ADDOPTS", "TEST_DATABASE_URL"):
            env.pop(name, None)
        command = [sys.executable, "-m", "pytest", "-p", "exercises.report"]
        # The repository's addopts without its durations and xdist; plugin autoload stays off
        # (schemathesis and hypothesis would cost each run seconds to import).
        command += ["-p", "no:cacheprovider"]
        command += ["-o", "addopts=--strict-markers --disable-plugin-autoload"]
        # Whole values in the assertions' messages, which the report quotes.
        command += ["-o", "verbosity_assertions=2"]
        command += ["-q", "--tb=short", "-m", marks, *pytest_args, *(modules or check_modules())]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.outcome: tuple[int, list[dict], str] | None = None

    def result(self) -> tuple[int, list[dict], str]:
        if self.outcome is None:
            output, _ = self.process.communicate()
            records = json.loads(self.report.read_text()) if self.report.exists() else []
            shutil.rmtree(self.scratch)
            self.outcome = (self.process.returncode, records, output)
        return self.outcome


def expectations(records: list[dict]) -> dict[tuple[str, str], list[dict]]:
    """Group the records by test function: one expectation, one or more cases."""
    grouped: dict[tuple[str, str], list[dict]] = {}
    for record in records:
        grouped.setdefault((record["module"], record["test"]), []).append(record)
    return grouped


def plain(test_name: str) -> str:
    return test_name.removeprefix("test_").replace("_", " ")


def failure_line(record: dict) -> str:
    """One line of plain language: what was sent, what was expected, what came back."""
    case = f" [{record['case']}]" if record["case"] else ""
    if record["expected"].startswith("expected the step to have"):  # no request's fault
        return f"{plain(record['test'])}{case}: {record['expected']}"
    parts = []
    if record["sent"]:
        parts.append(f"sent {record['sent']}")
    if record["sent"] and not record["got"] and record["expected"].startswith("raised "):
        parts.append("the app " + record["expected"])  # no response: the exception is the app's
    else:
        parts.append(record["expected"])
    if record["got"]:
        parts.append(f"came back {record['got']}")
    return f"{plain(record['test'])}{case}: " + "; ".join(parts)


def changed_given_files(number: int, workshop: Path = WORKSHOP) -> list[str]:
    """The files of a working copy that its starter gives whole and that are not as given."""
    entry, copy = step_entry(number), workshop / step_entry(number)["folder"]
    return [
        name
        for name, source in starter_files(number).items()
        if name not in entry["concept"]
        and not ((copy / name).is_file() and (copy / name).read_text() == source)
    ]


def friendly_report(
    number: int, records: list[dict], changed: list[str] | tuple = ()
) -> tuple[str, int, int]:
    """The report `make check` prints first; also the counts of expectations met and all.

    The expectations come in three groups: the step's concept (the tests that the manifest
    names), then the rest of the step's own tests (its hardening, whose code the starter has
    whole), then the tests of the steps before, one line when they all still hold. A test
    of the hardening that fails is listed with the concept, since the code it runs is the
    learner's together with files given whole: unless the learner `changed` a given file,
    the fault is in the learner's own files.
    """
    entry = step_entry(number)
    titles = {
        "concept": f"The concept of this step, in {' and '.join(entry['concept'])}",
        "hardening": "Its hardening and the rest, whole in your starter",
        "before": "The steps before",
    }
    if changed:
        titles["hardening"] += f" (you changed {', '.join(changed)}, which it gives whole)"
    lines: dict[str, list[str]] = {group: [] for group in titles}
    met = dict.fromkeys(titles, 0)
    grouped = expectations(records)
    for (module, test), cases in grouped.items():
        failed = [case for case in cases if case["outcome"] == "failed"]
        # Modules of earlier steps re-check them; other modules belong to this step.
        origin = module.removeprefix("tests.test_").split("_")[0]
        if origin.startswith("step") and origin != f"step{number}":
            group, mark = "before", f" (from step {origin.removeprefix('step')})"
        elif test in entry["concept_tests"]:
            group, mark = "concept", ""
        elif failed and not changed:
            group, mark = "concept", "(hardening) "
        else:
            group, mark = "hardening", ""
        if not failed:
            met[group] += 1
            line = f"  ok    {plain(test)}{mark}"
        elif mark.startswith("("):  # said first: the line may be long
            line = f"  FAIL  {mark}{failure_line(failed[0])}"
        else:
            line = f"  FAIL  {failure_line(failed[0])}{mark}"
            if len(cases) > 1:  # a table: which of its cases failed, by name
                named = ", ".join(f"[{case['case']}]" for case in failed)
                line += f"\n        {len(failed)} of {len(cases)} cases failed: {named}"
        lines[group].append(line)
    head = (
        f"Step {number}, {entry['task']}: {sum(met.values())} of {len(grouped)} expectations met."
    )
    errors = {record["expected"] for record in records if record["stage"] == "setup"}
    if len(errors) == 1 and all(record["stage"] == "setup" for record in records):
        return f"{head}\n  FAIL  no test could start: {errors.pop()}", 0, len(grouped)
    report = [head]
    for group, title in titles.items():
        if group == "before" and lines[group] and met[group] == len(lines[group]):
            report.append(f"{title}: all {len(lines[group])} expectations still hold")
        elif lines[group]:
            report += [f"{title}: {met[group]} of {len(lines[group])} met", *lines[group]]
        if group == "concept" and any(" (hardening) " in line for line in lines[group]):
            report.append("  (hardening): a check of code given whole, which yours breaks")
    return "\n".join(report), sum(met.values()), len(grouped)


def check_step(number: int, workshop: Path = WORKSHOP) -> int:
    folder = step_entry(number)["folder"]
    if not (workshop / folder).is_dir():
        print(
            f"There is no {shown(workshop / folder)}/ yet: make exercise STEP={number} creates it."
        )
        return 2
    status, records, output = CheckRun(step_marks(number), workshop).result()
    report, met, total = friendly_report(number, records, changed_given_files(number, workshop))
    if not records:
        print(f"The tests could not run against {shown(workshop / folder)}/:\n")
        print(output)
        return status or 1
    print(report)
    if status == 0:
        print(
            f"\nStep {number} is done. Compare with the solution: make diff STEP={number} "
            "WORKSHOP=1"
        )
        return 0
    print("\nThe details, as pytest reports them:\n")
    print(output)
    # Again at the end, where the terminal stops: the count and the first failures to fix.
    failures = [line for line in report.splitlines() if line.startswith("  FAIL  ")]
    shown_first = "the first to fix" if len(failures) > 3 else "to fix"
    print(f"Step {number}: {met} of {total} expectations met; {shown_first}:")
    print("\n".join(failures[:3]))
    if len(failures) > 3:
        print(f"  ... and {len(failures) - 3} more in the list above the details.")
    return status


def shown(path: Path) -> str:
    """A path as the learner typed it: relative to the repository when inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def progress(workshop: Path = WORKSHOP) -> int:
    """A table of every step: is there a working copy, and does it pass its checks?"""
    folders = dict(enumerate(STEPS, start=1))
    runs = {
        n: CheckRun(step_marks(n), workshop, "--tb=no")
        for n, folder in folders.items()
        if (workshop / folder).is_dir()
    }
    rows = []
    for number, folder in folders.items():
        if number in runs:
            status, records, _ = runs[number].result()
            _, met, total = friendly_report(number, records, changed_given_files(number, workshop))
            verdict = "pass" if status == 0 else f"{met} of {total} expectations met"
            if not records:
                verdict = f"cannot run: see make check STEP={number}"
            exists = "yes"
        else:
            exists, verdict = "no", f"make exercise STEP={number} starts it"
        rows.append((str(number), shown(workshop / folder) + "/", exists, verdict))
    width = max(len(row[1]) for row in rows) + 2
    for number, folder, exists, verdict in [("step", "working copy", "exists", "checks"), *rows]:
        print(f"{number:<6}{folder:<{width}}{exists:<8}{verdict}")
    return 0 if all(run.result()[0] == 0 for run in runs.values()) else 1


# --- make hint -----------------------------------------------------------------------------


def next_hints(number: int, workshop: Path = WORKSHOP, everything: bool = False) -> str:
    """The next hint of step n (or all of them), counting in workshop/.hints.json."""
    hints = [hint["text"] for hint in step_entry(number)["hint"]]
    state_file = workshop / ".hints.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    seen = state.get(str(number), 0)
    if everything:
        chosen = range(len(hints))
    elif seen >= len(hints):
        return (
            f"That was every hint of step {number}: make hint STEP={number} ALL=1 shows them "
            f"again, make diff STEP={number} WORKSHOP=1 shows the solution's code."
        )
    else:
        chosen = [seen]
    state[str(number)] = max(seen, chosen[-1] + 1)
    workshop.mkdir(exist_ok=True)
    state_file.write_text(json.dumps(state, indent=2) + "\n")
    return "\n\n".join(
        f"Hint {i + 1} of {len(hints)} (step {number}):\n" + hint_lines(hints[i]) for i in chosen
    )


def hint_lines(text: str) -> str:
    """A hint as shown: its prose wrapped, its code (paragraphs indented by four spaces) as
    it is, all of it indented by four spaces."""
    paragraphs = []
    for paragraph in re.split(r"\n\s*\n", text):
        lines = paragraph.splitlines()
        code = all(line.startswith("    ") for line in lines)
        paragraphs.append(lines if code else wrap(paragraph, LINE_LENGTH - 4))
    return "\n\n".join("\n".join("    " + line for line in lines) for lines in paragraphs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exercises.workshop", description=__doc__)
    parser.add_argument("--workshop", type=Path, default=WORKSHOP, help="the working copies")
    commands = parser.add_subparsers(dest="command", required=True)
    exercise = commands.add_parser("exercise", help="create a step's working copy in workshop/")
    exercise.add_argument("step", type=int)
    exercise.add_argument("--force", action="store_true", help="replace it, keeping a backup")
    check = commands.add_parser("check", help="test a working copy, or show the progress")
    check.add_argument("step", type=int, nargs="?")
    hint = commands.add_parser("hint", help="show the next hint of a step")
    hint.add_argument("step", type=int)
    hint.add_argument("--all", action="store_true", help="show every hint")
    args = parser.parse_args(argv)
    args.workshop = args.workshop.resolve()

    if args.command == "exercise":
        try:
            print(create_working_copy(args.step, args.workshop, force=args.force))
        except FileExistsError as refusal:
            print(refusal, file=sys.stderr)
            return 1
        return 0
    if args.command == "check":
        if args.step is None:
            return progress(args.workshop)
        return check_step(args.step, args.workshop)
    print(next_hints(args.step, args.workshop, everything=args.all))
    return 0


if __name__ == "__main__":
    sys.exit(main())
