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
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from exercises import workshop
from exercises.report import expectation, expected_call
from steps import STEPS
from tests import helpers
from tests.details import Detail
from tests.helpers import make
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


def after_docstring(source: str) -> list[str]:
    """The code lines that follow the module docstring, if there is one."""
    lines = source.splitlines()
    return code_lines(lines[workshop.docstring_length(lines) :])


@pytest.mark.parametrize("number", NUMBERS)
def test_a_starter_is_the_solution_with_todos_in_its_concept_files_alone(number):
    # So the hardening a step brings comes whole, and copying the solution's concept files
    # over a starter gives the solution, which the rest of `make test` proves passes.
    entry = workshop.step_entry(number)
    starter = workshop.starter_files(number)
    solution = workshop.package_files(entry["folder"])
    assert sorted(starter) == sorted(solution)
    assert set(entry["concept"]) <= set(solution)
    for name, source in starter.items():
        if name in entry["concept"]:
            assert workshop.TODO in source, f"{name} carries the concept but has no TODO"
        else:
            assert source == solution[name], f"{name} is not the solution's"
    assert docstring_lines(starter["__init__.py"])[0].startswith(f'"""Step {number}: ')


@pytest.mark.parametrize("number", range(2, len(STEPS) + 1))
def test_a_concept_file_without_its_todos_is_the_step_befores(number):
    # Under its own docstring, which says what the file will hold; a file the step adds
    # is its docstring alone.
    entry = workshop.step_entry(number)
    before = workshop.package_files(workshop.step_entry(number - 1)["folder"])
    solution = workshop.package_files(entry["folder"])
    for name in entry["concept"]:
        stripped = workshop.strip_todos(workshop.starter_files(number)[name])
        assert docstring_lines(stripped) == docstring_lines(solution[name])
        assert after_docstring(stripped) == after_docstring(before.get(name, ""))


def test_step_1s_starter_is_step_1_without_its_concept():
    entry = workshop.step_entry(1)
    removed = []
    for name in entry["concept"]:
        solution = workshop.package_files(entry["folder"])[name].splitlines()
        stripped = workshop.strip_todos(workshop.starter_files(1)[name]).splitlines()
        changes = [line for line in difflib.ndiff(solution, stripped) if line[0] in "+-"]
        assert all(change.startswith("- ") for change in changes), name  # lines removed only
        removed += changes
    assert "- class User(db.Model):" in removed
    assert any(line.startswith('- @api.get("/api/users/') for line in removed)


def hunks(before: list[str], after: list[str]) -> list[tuple[int, int, list[str]]]:
    """What a step adds to a file, as (first, last) places in `before` and the lines added.
    Additions that two lines or fewer keep apart are one hunk, as a diff shows them."""
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    found: list[tuple[int, int, list[str]]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag not in ("insert", "replace"):
            continue
        if found and i1 - found[-1][1] <= 2:
            first, _, added = found.pop()
            found.append((first, i2, added + after[j1:j2]))
        else:
            found.append((i1, i2, after[j1:j2]))
    return found


@pytest.mark.parametrize("number", NUMBERS)
def test_todos_sit_exactly_where_the_step_adds_code(number):
    entry = workshop.step_entry(number)
    base = workshop.base_files(number)
    solution = workshop.package_files(entry["folder"])
    for name in entry["concept"]:
        starter = workshop.starter_files(number)[name].splitlines()
        places = todo_places(starter)
        imports = import_lines(solution[name])
        added = hunks(code_lines(base[name]), code_lines(solution[name].splitlines()))
        for place, todo in places:
            assert any(first <= place <= last for first, last, _ in added), f"misplaced: {todo}"
        # Every hunk but imports has a TODO: a learner finds the imports from the names.
        for first, last, lines in added:
            if not all(line in imports for line in lines):
                assert any(first <= place <= last for place, _ in places), "\n".join(lines)


def test_the_todos_are_numbered_in_the_order_the_manifest_teaches():
    starter = workshop.starter_files(5)
    numbers = sorted(
        int(match[1])
        for source in starter.values()
        for match in re.finditer(r"# TODO: \((\d+) of (\d+)\)", source)
    )
    assert numbers == list(range(1, len(workshop.step_entry(5)["todo"]) + 1))


def test_the_todos_and_hints_fit_the_line_length(tmp_path):
    for number in NUMBERS:
        workshop.write_starter(number, tmp_path)
        for hint in workshop.step_entry(number)["hint"]:
            lines = workshop.hint_lines(hint["text"]).splitlines()
            too_wide = [line for line in lines if workshop.columns(line) > workshop.LINE_LENGTH]
            assert too_wide == [], hint["text"]
    # The starters as the repository's linter measures them (a fullwidth letter is 2 columns).
    config = ["--config", str(ROOT / "pyproject.toml"), "--no-cache", "--select", "E501"]
    ruff = Path(sys.executable).with_name("ruff")
    linted = subprocess.run([ruff, "check", *config, tmp_path], capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_code_in_a_hint_is_shown_as_it_is():
    text = "Prose that\nwraps.\n\n    def f():\n        return 1"
    assert (
        workshop.hint_lines(text)
        == "    Prose that wraps.\n\n        def f():\n            return 1"
    )


@pytest.mark.parametrize("number", NUMBERS)
def test_the_concept_tests_of_the_manifest_are_tests_of_the_step(number):
    entry = workshop.step_entry(number)
    module = importlib.import_module(f"tests.test_{entry['folder']}")
    missing = [name for name in entry["concept_tests"] if not hasattr(module, name)]
    assert not missing, f"manifest.toml names tests that {module.__name__} does not have"


def words_of(text: str) -> list[str]:
    """The words of a text in lower case, such as 'username' (quoted) and /api/tokens."""
    return [word for word in re.findall(r"[\w'/]+", text.lower()) if re.search(r"\w", word)]


def detail_phrases(source: str) -> set[str]:
    """The runs of four words or more in the sentences of a file's string literals (its
    problem details and error_description), the holes of an f-string cutting a run."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    phrases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [
                part.value if isinstance(part, ast.Constant) else "\0" for part in node.values
            ]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            parts = [node.value]
        else:
            continue
        if id(node) in docstrings:
            continue
        for sentence in "".join(parts).split('"'):
            if sentence.rstrip().endswith(".") and len(sentence.split()) >= 4:
                for run in sentence.split("\0"):
                    words = words_of(run)
                    if len(words) >= 4:
                        phrases.add(" ".join(words))
    return phrases


def test_detail_phrases_are_the_sentences_of_string_literals():
    source = 'x = f"There is no user with id {id}."\nraise X("Send a valid access token now.")\n'
    assert detail_phrases(source) == {"there is no user with id", "send a valid access token now"}
    api = workshop.package_files(STEPS[2])["api.py"]
    assert "the body must be a json object" in detail_phrases(api)


@pytest.mark.parametrize("number", NUMBERS)
def test_no_todo_or_hint_spells_out_a_detail_of_the_solution(number):
    # A learner designs the details; make check judges them on what they say.
    entry = workshop.step_entry(number)
    solution = workshop.package_files(entry["folder"])
    phrases = set().union(*(detail_phrases(solution[name]) for name in entry["concept"]))
    texts = [item["text"] for item in entry["todo"] + entry["hint"]]
    docs = " ".join(words_of(" ".join(texts)))
    spelled = sorted(phrase for phrase in phrases if f" {phrase} " in f" {docs} ")
    assert not spelled, f"the TODOs or hints of step {number} spell out {spelled}"


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
    created = make("exercise", "STEP=2", where, check=True).stdout
    assert "1. models.py: User.hash_password" in created  # the TODOs, in order, by file
    models = tmp_path / STEPS[1] / "models.py"
    assert models.read_text() == workshop.starter_files(2)["models.py"]
    models.write_text("# my own work\n")

    refused = make("exercise", "STEP=2", where)
    assert refused.returncode != 0
    assert "nothing was changed" in refused.stderr
    assert models.read_text() == "# my own work\n"

    make("exercise", "STEP=2", "FORCE=1", where, check=True)
    assert models.read_text() == workshop.starter_files(2)["models.py"]
    (backup,) = tmp_path.glob(f"{STEPS[1]}.backup-*")
    assert (backup / "models.py").read_text() == "# my own work\n"


# make check judges behaviour: another correct design of a concept passes it as ours does.
# tests/designs/ holds such designs; each is checked on the tests of what it designs.
OTHER_DESIGNS = [
    pytest.param(
        3,
        "step3_api.py",
        "api.py",
        None,
        "location or taken_username or lost_race or before_hashing or invalid_bodies",
        id="step3-own-queries",
    ),
    pytest.param(
        5,
        "step5_models.py",
        "models.py",
        None,
        "tokens_table or holds_the_digest or expired_one or in_seconds or deleted_users",
        id="step5-own-columns",
    ),
    pytest.param(
        6,
        "step6_failed_logins.py",
        "failed_logins.py",
        "limits.py",
        "store or at_once or day_limit or eleventh or fifty_first or limited_exactly"
        " or longer_than_any or long_spelling or (not_refused_by_any and FAILED_LOGINS)",
        id="step6-window-stats",
    ),
]


@pytest.mark.parametrize("number, design, module, importer, examined", OTHER_DESIGNS)
def test_another_correct_design_passes_make_checks_tests(
    tmp_path, number, design, module, importer, examined
):
    # The design goes into a copy of the solution as `module`: a concept file that it
    # replaces whole, or a module of its own that the end of the concept file `importer`
    # imports, so that its names replace the solution's.
    folder = tmp_path / STEPS[number - 1]
    shutil.copytree(ROOT / STEPS[number - 1], folder)
    shutil.copy(ROOT / "tests" / "designs" / design, folder / module)
    if importer:
        with (folder / importer).open("a") as file:
            file.write(f"from .{module.removesuffix('.py')} import *  # noqa: E402, F403\n")
    tests = [str(path) for path in (ROOT / "tests").glob(f"test_step{number}_*.py")]
    run = workshop.CheckRun(workshop.step_marks(number), tmp_path, "-k", examined, modules=tests)
    status, records, output = run.result()
    assert status == 0, output
    assert len(records) >= 6, output  # the tests of the design ran


def test_make_check_reports_in_plain_words_and_shows_the_progress(tmp_path):
    started, finished = tmp_path / "started", tmp_path / "finished"
    workshop.write_starter(1, started)
    shutil.copytree(ROOT / STEPS[1], finished / STEPS[1])

    result = make("check", "STEP=1", f"WORKSHOP_DIR={started}")
    assert result.returncode != 0
    report, details = result.stdout.split("The details, as pytest reports them:")
    assert report.startswith("Step 1, ")
    # The concept first, then the rest, each with the count of what it lists. A check of
    # the hardening that the missing model breaks is the concept's to fix: it is listed
    # there, and marked. Of the concept, only the route's converter holds without a model.
    concept_title = "The concept of this step, in models.py and api.py: "
    rest_title = "Its hardening and the rest, whole in your starter: "
    concept, rest = report.index(concept_title), report.index(rest_title)
    assert concept < rest
    in_concept, in_rest = (
        re.findall(r"^  (?:ok  |FAIL)  (.*)$", part, re.M)
        for part in (report[concept:rest], report[rest:])
    )
    assert report[concept:].startswith(f"{concept_title}1 of {len(in_concept)} met\n")
    assert report[rest:].startswith(f"{rest_title}{len(in_rest)} of {len(in_rest)} met\n")
    assert report.splitlines()[0].endswith(
        f": {1 + len(in_rest)} of {len(in_concept) + len(in_rest)} expectations met."
    )
    # The concept's tests that the manifest names are listed there, each once; every other
    # line there is a check of the hardening, marked.
    named = [workshop.plain(test) for test in workshop.step_entry(1)["concept_tests"]]
    unmarked = [line for line in in_concept if not line.startswith("(hardening) ")]
    assert sorted(re.split(r": |$", line)[0] for line in unmarked) == sorted(named)
    assert "  ok    unknown route is 404 problem\n" in report[rest:]
    assert (
        "  FAIL  (hardening) wrong method is 405 problem with allow header: sent DELETE "
        "/api/users/1; expected 405, not 404; came back 404 NOT FOUND: The requested URL was "
        "not found on the server\n"
    ) in report[concept:rest]
    assert (
        "  FAIL  unknown user is 404 problem: sent GET /api/users/42; expected a detail that "
        "says '42'; came back 404 NOT FOUND: The requested URL was not found on the server"
    ) in report[concept:rest]
    assert "expected False" not in report and "expected True" not in report
    assert (
        "  FAIL  user table columns: expected the step to have what the test uses "
        "(NoSuchTableError: users)\n"
    ) in report
    assert "short test summary info" in details
    # At the end, where the terminal stops: the count, and the first failures again.
    failures = [line for line in report.splitlines() if line.startswith("  FAIL  ")]
    assert len(failures) > 3
    tail = details.rstrip("\n").splitlines()[-5:]
    counted = re.search(r": (\d+ of \d+) expectations met\.$", report.splitlines()[0])[1]
    assert tail[0] == f"Step 1: {counted} expectations met; the first to fix:"
    assert tail[1:4] == failures[:3]
    assert tail[4] == f"  ... and {len(failures) - 3} more in the list above the details."

    result = make("check", f"WORKSHOP_DIR={finished}")
    assert result.returncode == 0
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert rows[1] == ["2", f"{finished / STEPS[1]}/", "yes", "pass"]
    assert [row[2] for row in rows] == ["no", "yes"] + ["no"] * (len(STEPS) - 2)


# A learner's copy of step 3: its solution with mistakes, and with details in the learner's
# own words, (file, what the solution says, what the copy says instead).
LEARNERS_CHANGES = [
    (
        "api.py",
        'return user.to_dict(), 201, {"Location": f"/api/users/{user.id}"}',
        "return user.to_dict(), 201",
    ),
    (  # the first 409: a body that says it is a problem but is not JSON
        "api.py",
        "raise Conflict(f\"The username '{username}' is already taken.\")",
        'return "taken", 409, {"Content-Type": "application/problem+json"}',
    ),
    ("credentials.py", 'if ":" in username:', "if False:"),  # a colon is let through
    ("credentials.py", '"UsernameCasePreserved", 1, 32)', '"UsernameCasePreserved", 1, 40)'),
    # Details of its own: one that says it its own way, one that is no sentence and does not
    # name its field, and Werkzeug's default, which says nothing about the request.
    ("api.py", '"The body must be a JSON object."', '"Send one JSON object."'),
    ("api.py", "\"'username' is required and must be a string.\"", '"Missing or wrong type"'),
    ("api.py", "BadRequest(\"'password' is required and must be a string.\")", "BadRequest()"),
    (  # the 409 of a lost race, in other words that still name the user
        "api.py",
        "raise Conflict(f\"The username '{username}' is already taken.\") from None",
        'raise Conflict(f"Somebody registered {username} a moment ago.") from None',
    ),
]


def learners_check(root: Path) -> tuple[list[str], list[dict]]:
    """The lines of `make check STEP=3` for a copy of step 3 with LEARNERS_CHANGES, and its
    records."""
    shutil.copytree(ROOT / STEPS[2], root / STEPS[2])
    for name, right, wrong in LEARNERS_CHANGES:
        path = root / STEPS[2] / name
        assert right in path.read_text()
        path.write_text(path.read_text().replace(right, wrong, 1))
    # Only the tests that the changes touch, and their neighbours: all of step 3's take long.
    examined = "location or taken_username or invalid_bodies or malformed or lost_race"
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
    changed = workshop.changed_given_files(3, root)
    assert changed == ["credentials.py"]
    report, _, _ = workshop.friendly_report(3, records, changed)
    return report.splitlines(), records


def failing_line(lines: list[str], test: str) -> str:
    (line,) = [line for line in lines if line.startswith(f"  FAIL  {workshop.plain(test)}")]
    return line


def case(records: list[dict], test: str, containing: str) -> dict:
    """The record of the one case of a test whose id is the text, or else contains it."""
    cases = [record for record in records if record["test"] == test]
    (record,) = [r for r in cases if r["case"] == containing] or [
        r for r in cases if containing in r["case"]
    ]
    return record


def test_make_check_says_what_came_back_and_judges_details_by_what_they_say(tmp_path):
    lines, records = learners_check(tmp_path)

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

    # A table's line counts its failed cases and names each of them, in the table's order.
    test = "test_invalid_bodies_are_400_and_store_nothing"
    cases = [record for record in records if record["test"] == test]
    failed = [record["case"] for record in cases if record["outcome"] == "failed"]
    line = failing_line(lines, test)
    assert line.startswith(f"  FAIL  {workshop.plain(test)} [{failed[0]}]: ")
    named = ", ".join(f"[{case}]" for case in failed)
    assert lines[lines.index(line) + 1] == (
        f"        {len(failed)} of {len(cases)} cases failed: {named}"
    )
    # The mistakes of credentials.py: a colon, names of 33 characters. A detail that
    # says 40 for "" is still a sentence that names 'username': no mistake of wording.
    for containing in ("alice:admin", "aaaaaaaaaa", "u00e9"):
        assert case(records, test, containing)["outcome"] == "failed", containing
    assert case(records, test, '"username": "", ')["outcome"] == "passed"

    # A detail said its own way: the sentence about a JSON object passes, whatever its words.
    for containing in ('[{"username"', '"alice"', "42", "null"):
        assert case(records, test, containing)["outcome"] == "passed", containing
    # A detail that is no sentence naming its field, and Werkzeug's default, fail, said in
    # words, and the expectation whole, however long.
    missing_field = case(records, test, '{"username": 42,')
    assert missing_field["expected"] == (
        "expected a detail that is a sentence (two words or more, ending with a full stop)"
        " and names 'username'"
    )
    assert missing_field["got"] == "400 BAD REQUEST: Missing or wrong type"
    assert case(records, test, '"password": null}')["expected"] == (
        "expected a detail that is your own, not Werkzeug's default for 400 and names 'password'"
    )
    # The 409 of a lost race, in other words that still name the user, passes.
    race = [
        r for r in records if r["test"] == "test_the_unique_constraint_turns_a_lost_race_into_409"
    ]
    assert [r["outcome"] for r in race] == ["passed"]


def record(test: str, outcome: str, module: str = "tests.test_step3_registration") -> dict:
    """What exercises/report.py records of a test of step 3 without cases."""
    expected = "expected 413, not 201" if outcome == "failed" else ""
    return {
        **{"step": STEPS[2], "module": module, "test": test, "case": "", "outcome": outcome},
        **{"stage": "call", "sent": "", "expected": expected, "got": ""},
    }


def test_a_failure_through_the_learners_files_is_listed_with_the_concept():
    records = [
        record("test_taken_username_is_409", "passed"),
        record("test_a_body_over_16_kib_is_413", "failed"),  # bodies.py is whole: api.py's fault
        record("test_get_on_the_collection_is_405_with_allow_header", "passed"),
    ]
    report, met, total = workshop.friendly_report(3, records)
    concept, hardening = report.split("\nIts hardening")
    assert (met, total) == (2, 3)
    assert "The concept of this step, in api.py: 1 of 2 met" in concept
    assert "  FAIL  (hardening) a body over 16 kib is 413: expected 413, not 201\n" in concept
    assert concept.endswith("\n  (hardening): a check of code given whole, which yours breaks")
    assert hardening.startswith(" and the rest, whole in your starter: 1 of 1 met\n  ok    ")

    # A learner who changed a file given whole may have broken it there: it stays with it.
    report, _, _ = workshop.friendly_report(3, records, ["bodies.py"])
    concept, hardening = report.split("\nIts hardening")
    assert "in api.py: 1 of 1 met" in concept
    assert hardening.startswith(
        " and the rest, whole in your starter (you changed bodies.py, which it gives whole): "
        "1 of 2 met\n"
    )
    assert "  FAIL  a body over 16 kib is 413: expected 413, not 201\n" in hardening + "\n"


def test_a_failed_count_says_what_it_counted():
    failed = helpers.assert_count  # as a test calls it
    with pytest.raises(AssertionError) as raised:
        failed("passwords hashed", 1, 0)
    message = f"AssertionError: {raised.value}\nassert 1 == 0"
    report = SimpleNamespace(longrepr=SimpleNamespace(reprcrash=SimpleNamespace(message=message)))
    call = SimpleNamespace(excinfo=SimpleNamespace(errisinstance=lambda kind: True))
    assert expectation(None, report, call, None) == "passwords hashed: expected 0, got 1"


def test_a_failed_check_of_a_methods_answer_is_said_in_words():
    at = "<built-in method startswith of str object at 0x7f0>"
    message = (
        f"assert False\n +  where False = {at}('Bearer')\n +    where {at} = 'Basic'.startswith"
    )
    assert expected_call(message, "assert False") == "expected 'Basic' to start with 'Bearer'"
    message = (
        "assert not True\n +  where True = verify_password('x')\n"
        " +    where verify_password = <User 1>.verify_password"
    )
    expected = "expected verify_password('x') of User 1 not to be true"
    assert expected_call(message, "assert not True") == expected


def stored_password_is(app, step, prepared: str, sent: str) -> bool:
    """Whether the stored hash is of the prepared password,
    and not of what was sent."""
    return False


def test_a_failed_check_by_a_helper_says_what_the_helper_checks_without_the_tests_objects():
    app, step = "<Flask 'step3_registration'>", "<tests.helpers.Step object at 0x7fd8a0>"
    call = f"stored_password_is({app}, {step}, prepared='pässwörd', sent='pa\\u0308sswörd')"
    message = f"assert False\n +  where False = {call}"
    said = expected_call(message, "assert False", {"stored_password_is": stored_password_is})
    assert said == (
        "expected that the stored hash is of the prepared password, and not of what was sent"
        " (prepared='pässwörd', sent='pa\\u0308sswörd')"
    )
    # Without the helper at hand: its name and the learner's values, never the test's objects.
    said = expected_call(message, "assert False")
    assert (
        said
        == "expected stored_password_is(prepared='pässwörd', sent='pa\\u0308sswörd') to be true"
    )


def test_a_learners_detail_is_a_sentence_that_is_not_werkzeugs_default():
    own = Detail("Send the username as text.", 400)
    assert "'username' is required" in own  # said its own way, naming the field
    assert own == "'username' is required and must be a string."
    assert "U+" not in own  # one word alone is exact: a check of what it must not say holds
    assert "42" not in own
    assert "'password' is required" not in own  # names another field
    assert "a JSON object" not in Detail("json", 400)  # not a sentence
    werkzeug = "The browser (or proxy) sent a request that this server could not understand."
    assert "a JSON object" not in Detail(werkzeug, 400)


def test_a_learners_start_error_names_its_variable_in_its_own_words(monkeypatch):
    monkeypatch.setattr(helpers, "LEARNER_COPY", True)
    with helpers.stops_the_start("FLASK_LIMIT", "must be text"):
        raise ValueError("Set FLASK_LIMIT to some text, please.")
    unnamed = pytest.raises(AssertionError, match="a ValueError that names FLASK_LIMIT,")
    for message in ("Wrong setting.", "FLASK_LIMITS must be text."):  # another variable
        with unnamed, helpers.stops_the_start("FLASK_LIMIT", "must be text"):
            raise ValueError(message)
    monkeypatch.setattr(helpers, "LEARNER_COPY", False)  # the solution's words are pinned
    unpinned = pytest.raises(AssertionError, match="'must be text' not in")
    with unpinned, helpers.stops_the_start("FLASK_LIMIT", "must be text"):
        raise ValueError("Set FLASK_LIMIT to some text, please.")


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
    assert f"+++ {STEPS[2]}/api.py" in result.stdout
    assert '+@api.post("/api/users")' in result.stdout
    assert "-# TODO: (1 of 2) Add the route POST /api/users" in result.stdout
    assert f"{STEPS[2]}/bodies.py" not in result.stdout  # whole in the starter


@pytest.mark.live
def test_make_run_workshop_serves_the_working_copy(live_server, tmp_path):
    copies = tmp_path / "copies"
    workshop.write_starter(1, copies)
    server = live_server(step=1, make_vars={"WORKSHOP": "1", "WORKSHOP_DIR": str(copies)})
    body = requests.get(f"{server.url}/api/users/1", timeout=5).json()
    # The solution says that there is no user with id 1; the starter has no such route yet.
    assert body["status"] == 404
    assert "requested URL was not found" in body["detail"]
    assert f"Serving {copies}/{STEPS[0]}" in server.log_text()
