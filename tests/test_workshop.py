"""Workshop mode (exercises/): the starters are sound, and the make targets keep their word.

A starter has the package name of its solution, so every check of a starter runs in a
pytest subprocess of its own, pointed at the starter's folder by STEPS_ROOT (exactly
what `make check` does).
"""

import ast
import difflib
import importlib
import re
import shutil
from pathlib import Path

import pytest
import requests

from exercises import workshop
from tests.helpers import STEPS, make
from tests.live import ROOT

NUMBERS = range(1, len(STEPS) + 1)


def is_todo(line: str) -> bool:
    return line.lstrip().startswith(workshop.TODO)


def code_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.strip()]


def todo_places(starter: list[str]) -> list[tuple[int, str]]:
    """Where each TODO sits, counted in non-blank lines of the code around it: its first line."""
    places, seen, in_todo = [], 0, False
    for line in starter:
        starts = is_todo(line)
        continues = in_todo and line.lstrip().startswith(workshop.TODO_MORE)
        if starts:
            places.append((seen, line.strip()))
        elif not continues and line.strip():
            seen += 1
        in_todo = starts or continues
    return places


def import_lines(source: str) -> set[str]:
    """Every line of the source's import statements, those that span lines included."""
    lines = source.splitlines()
    return {
        line
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for line in lines[node.lineno - 1 : node.end_lineno]
    }


def docstring_lines(source: str) -> list[str]:
    """The lines of the module docstring that opens the source."""
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.Expr) and isinstance(node.value.value, str)
    return source.splitlines()[node.lineno - 1 : node.end_lineno]


@pytest.mark.parametrize("number", NUMBERS)
def test_a_starter_without_its_todos_is_the_code_before_the_step(number):
    starter = workshop.starter_source(number)
    assert starter.count(workshop.TODO) >= 2
    stripped = workshop.strip_todos(starter)
    # The docstring names the step being built, as the solution's does; nothing else differs.
    docstring = docstring_lines((ROOT / STEPS[number - 1] / "app.py").read_text())
    assert docstring[0].startswith(f'"""Step {number}: ')
    assert docstring_lines(stripped) == docstring
    if number > 1:
        before = (ROOT / STEPS[number - 2] / "app.py").read_text()
        after_docstring = before.splitlines()[len(docstring_lines(before)) :]
        assert stripped.splitlines() == docstring + after_docstring
        return
    # Step 1 has no step before it: its starter is step 1 with lines removed, nothing else.
    solution = (ROOT / STEPS[0] / "app.py").read_text().splitlines()
    changes = [line for line in difflib.ndiff(solution, stripped.splitlines()) if line[0] in "+-"]
    assert all(change.startswith("- ") for change in changes)
    removed = "\n".join(changes)
    assert "- class User(db.Model):" in removed
    assert '-     @app.get("/api/users/' in removed
    for kept in ("def problem(", "def create_app(", "app.register_error_handler("):
        assert kept in stripped


@pytest.mark.parametrize("number", NUMBERS)
def test_todos_sit_exactly_where_the_step_adds_code(number):
    starter = workshop.starter_source(number).splitlines()
    before = code_lines(workshop.base_lines(number))
    source = (ROOT / STEPS[number - 1] / "app.py").read_text()
    after = code_lines(source.splitlines())
    imports = import_lines(source)
    places = todo_places(starter)
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    additions = [
        (i1, i2, after[j1:j2])
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag in ("insert", "replace")
    ]
    for place, todo in places:
        assert any(i1 <= place <= i2 for i1, i2, _ in additions), f"misplaced: {todo}"
    # Every addition but the imports and the docstring (one TODO lists the imports) has one.
    for i1, i2, added in additions:
        if not all(line in imports or line.startswith('"""') for line in added):
            assert any(i1 <= place <= i2 for place, _ in places), "\n".join(added)


def first_test_of(number: int) -> str:
    """The node id of the first test in step n's own module, run against step n."""
    path = next((ROOT / "tests").glob(f"test_step{number}_*.py"))
    name = next(
        node.name
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    )
    return f"{path.relative_to(ROOT)}::{name}[{STEPS[number - 1]}]"


def test_every_starter_fails_the_first_test_of_its_step(tmp_path):
    # The five starters have five package names, so one subprocess runs them all (STEPS_ROOT
    # keeps the solutions out). Each must fail its step's first test, and fail it as an
    # expectation not met, not as a test that could not start. Their own step's other tests
    # run in `make check`; the earlier steps' tests need not run here: a starter is the code
    # of the step before (the tests above), which the rest of `make test` runs them against.
    for number in NUMBERS:
        workshop.write_starter(number, tmp_path)
    firsts = [first_test_of(number) for number in NUMBERS]
    every_step = " or ".join(f"step{number}" for number in NUMBERS)
    run = workshop.CheckRun(f"({every_step})", tmp_path, "--tb=no", modules=firsts)
    status, records, output = run.result()
    assert status == 1, output  # tests failed: not a crash, not "no tests collected"
    assert sorted(record["step"] for record in records) == sorted(STEPS), output
    for record in records:
        assert record["outcome"] == "failed", f"the starter of {record['step']} passes"
        assert record["stage"] == "call", record


def is_detail(node: ast.AST) -> bool:
    """Whether the expression is `...["detail"]`: a problem's detail."""
    return isinstance(node, ast.Subscript) and getattr(node.slice, "value", None) == "detail"


def pinned_details(path: Path) -> set[str]:
    """The words a step's test module requires in a problem's detail: the `detail` column of
    its parametrize tables (every word of a tuple of true alternatives), and the strings its
    assertions look for in a `...["detail"]` or pass to assert_detail_says."""
    module = importlib.import_module(f"tests.{path.stem}")
    pinned = set()
    for function in vars(module).values():
        for mark in getattr(function, "pytestmark", []):
            names = mark.args[0] if mark.name == "parametrize" else ""
            names = (
                [name.strip() for name in names.split(",")] if isinstance(names, str) else names
            )
            if "detail" not in names:
                continue
            for row in mark.args[1]:
                values = getattr(row, "values", row if len(names) > 1 else (row,))  # pytest.param
                words = values[names.index("detail")]
                pinned.update((words,) if isinstance(words, str) else words)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare) and is_detail(node.comparators[0]):
            words = node.left
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "assert_detail_says":
            words = node.args[1]
        else:
            continue
        if isinstance(words, ast.Constant):
            pinned.add(words.value)
    return pinned


STEP_TEST_MODULES = sorted((ROOT / "tests").glob("test_step*_*.py"))


def test_pinned_details_come_from_tables_alternatives_and_assertions():
    pinned = pinned_details(ROOT / "tests" / "test_step3_registration.py")
    assert "colon" in pinned  # INVALID_BODIES
    assert {"nested too deeply", "The body must be a JSON object."} <= pinned  # alternatives
    assert "already taken" in pinned  # an assertion on body["detail"]


@pytest.mark.parametrize("path", STEP_TEST_MODULES, ids=[path.stem for path in STEP_TEST_MODULES])
def test_every_detail_the_step_tests_pin_is_in_the_steps_readme_or_hints(path):
    folder = path.stem.removeprefix("test_")
    entry = workshop.step_entry(STEPS.index(folder) + 1)
    texts = [(ROOT / folder / "README.md").read_text()]
    texts += [item["text"] for item in entry["hint"] + entry["todo"]]
    docs = " ".join(" ".join(texts).split())  # line breaks in the docs are spaces
    missing = sorted(
        words for words in pinned_details(path) if " ".join(words.split()) not in docs
    )
    assert not missing, f"{folder}/README.md and its hints never say {missing}"


# Tests of the solutions' OpenAPI descriptions and of the docs page beside them: tooling
# around the steps, which a working copy is not judged on.
NOT_STEP_TESTS = {"test_openapi.py", "test_apidocs.py"}


def test_make_check_collects_every_module_of_in_process_step_tests():
    checked = {Path(path).name for path in workshop.check_modules()}
    assert "test_step1_models.py" in checked
    for path in (ROOT / "tests").glob("test_*.py"):
        if re.search(r"steps_from\(\d", path.read_text()) and path.name not in NOT_STEP_TESTS:
            assert path.name in checked, f"make check would leave out {path.name}"


# Every solution passing its step's tests is what the rest of `make test` proves: it runs
# the same tests against the solutions in place. test_make_check_... below runs one copied
# solution through `make check`, the way an attendee's finished copy is checked.


def test_make_exercise_never_overwrites_and_force_keeps_a_backup(tmp_path):
    where = f"WORKSHOP_DIR={tmp_path}"
    make("exercise", "STEP=2", where, check=True)
    app = tmp_path / STEPS[1] / "app.py"
    assert app.read_text() == workshop.starter_source(2)
    app.write_text("# my own work\n")

    refused = make("exercise", "STEP=2", where)
    assert refused.returncode != 0
    assert "nothing was changed" in refused.stderr
    assert app.read_text() == "# my own work\n"

    make("exercise", "STEP=2", "FORCE=1", where, check=True)
    assert app.read_text() == workshop.starter_source(2)
    (backup,) = tmp_path.glob(f"{STEPS[1]}.backup-*")
    assert (backup / "app.py").read_text() == "# my own work\n"


def test_make_check_reports_in_plain_words_and_shows_the_progress(tmp_path):
    started, finished = tmp_path / "started", tmp_path / "finished"
    workshop.write_starter(1, started)
    shutil.copytree(ROOT / STEPS[1], finished / STEPS[1])

    result = make("check", "STEP=1", f"WORKSHOP_DIR={started}")
    assert result.returncode != 0
    report, details = result.stdout.split("The details, as pytest reports them:")
    assert report.startswith("Step 1, ")
    assert "  ok    unknown route is 404 problem\n" in report
    assert (
        "  FAIL  wrong method is 405 problem with allow header: sent DELETE /api/users/1; "
        "expected 405, not 404; came back 404 NOT FOUND" in report
    )
    assert "has no attribute 'User'" in report
    assert "short test summary info" in details

    result = make("check", f"WORKSHOP_DIR={finished}")
    assert result.returncode == 0
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert rows[1] == ["2", f"{finished / STEPS[1]}/", "yes", "pass"]
    assert [row[2] for row in rows] == ["no", "yes"] + ["no"] * (len(STEPS) - 2)


# Mistakes a learner could make in step 3, written into a copy of its solution: (what the
# solution says, what the copy says instead).
MISTAKES = [
    (
        'return user.to_dict(), 201, {"Location": f"/api/users/{user.id}"}',
        "return user.to_dict(), 201",
    ),
    (  # the first 409: a body that says it is a problem but is not JSON
        "raise Conflict(f\"The username '{username}' is already taken.\")",
        'return "taken", 409, {"Content-Type": "application/problem+json"}',
    ),
    ('if ":" in username:', "if False:"),  # a colon is let through
    ('"UsernameCasePreserved", 1, 32)', '"UsernameCasePreserved", 1, 40)'),  # 33 are let in
]


def mistaken_check(root: Path) -> tuple[list[str], list[dict]]:
    """The lines of `make check STEP=3` for a copy of step 3 with MISTAKES, and its records."""
    shutil.copytree(ROOT / STEPS[2], root / STEPS[2])
    source = (root / STEPS[2] / "app.py").read_text()
    for right, wrong in MISTAKES:
        assert right in source
        source = source.replace(right, wrong, 1)
    (root / STEPS[2] / "app.py").write_text(source)
    # Only the tests that the MISTAKES break, and their neighbours: all of step 3's take long.
    examined = "location or taken_username or invalid_bodies or malformed"
    run = workshop.CheckRun(
        workshop.step_marks(3),
        root,
        "--tb=no",
        "-k",
        examined,
        modules=[str(ROOT / "tests" / "test_step3_registration.py")],
    )
    status, records, output = run.result()
    assert status == 1, output
    report, _, _ = workshop.friendly_report(3, records)
    return report.splitlines(), records


def failing_line(lines: list[str], test: str) -> str:
    (line,) = [line for line in lines if line.startswith(f"  FAIL  {workshop.plain(test)}")]
    return line


def test_make_check_says_what_came_back_and_which_cases_failed(tmp_path):
    lines, records = mistaken_check(tmp_path)

    # A test that cannot read the answer (no Location, a body that is not JSON) reports it
    # like any failure: what was sent, what was expected, what came back.
    sent = 'sent POST /api/users {"username": "alice", "password": "correct-horse-battery-staple"}'
    created = 'came back 201 CREATED application/json: {"id":1,"username":"alice"}'
    for test in (
        "test_registration_is_201_with_the_user_and_its_location",
        "test_the_location_serves_the_new_user",
    ):
        line = failing_line(lines, test)
        assert f"{sent}; expected a Location header" in line
        assert line.endswith(created)
    line = failing_line(lines, "test_taken_username_is_409")
    assert "expected a JSON body" in line
    assert line.endswith("came back 409 CONFLICT application/problem+json: taken")
    for line in lines:  # never an exception of the test itself
        assert "raised" not in line and "KeyError" not in line and "JSONDecodeError" not in line

    # A table's line counts its failed cases and names each of them.
    test = "test_invalid_bodies_are_400_and_store_nothing"
    cases = [record for record in records if record["test"] == test]
    failed = [record["case"] for record in cases if record["outcome"] == "failed"]
    assert len(failed) == 4  # a colon, two names of 33 characters, "" (its detail says 40)
    line = failing_line(lines, test)
    assert line.startswith(f"  FAIL  {workshop.plain(test)} [{failed[0]}]: ")
    named = ", ".join(f"[{case}]" for case in failed)
    assert lines[lines.index(line) + 1] == (
        f"        {len(failed)} of {len(cases)} cases failed: {named}"
    )


def test_make_hint_shows_one_more_hint_each_time(tmp_path):
    where = f"WORKSHOP_DIR={tmp_path}"
    hints = workshop.step_entry(3)["hint"]
    assert make("hint", "STEP=3", where, check=True).stdout.startswith(f"Hint 1 of {len(hints)}")
    assert make("hint", "STEP=3", where, check=True).stdout.startswith(f"Hint 2 of {len(hints)}")
    everything = make("hint", "STEP=3", "ALL=1", where, check=True).stdout
    assert everything.count("Hint ") == len(hints)
    assert make("hint", "STEP=4", where, check=True).stdout.startswith("Hint 1 of")


def test_make_diff_workshop_compares_the_copy_with_the_solution(tmp_path):
    workshop.write_starter(3, tmp_path)
    result = make("diff", "STEP=3", "WORKSHOP=1", f"WORKSHOP_DIR={tmp_path}", check=True)
    assert f"+++ {STEPS[2]}/app.py" in result.stdout
    assert '+    @app.post("/api/users")' in result.stdout
    assert "-    # TODO: Add the route POST /api/users" in result.stdout


@pytest.mark.live
def test_make_run_workshop_serves_the_working_copy(live_server, tmp_path):
    copies = tmp_path / "copies"
    workshop.write_starter(1, copies)
    server = live_server(step=1, make_vars={"WORKSHOP": "1", "WORKSHOP_DIR": str(copies)})
    body = requests.get(f"{server.url}/api/users/1", timeout=5).json()
    # The solution says "There is no user with id 1."; the starter has no such route yet.
    assert body["status"] == 404
    assert "requested URL was not found" in body["detail"]
    assert f"Serving {copies}/{STEPS[0]}" in server.log_text()
