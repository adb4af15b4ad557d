"""The rules that keep the steps a readable, incremental lesson."""

import ast
import difflib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from exercises.workshop import load_steps, write_starter
from steps import STEPS, find_steps, number_of
from tests.helpers import make, steps_from
from tests.live import ROOT

PAIRS = list(zip(STEPS, STEPS[1:], strict=False))


def python_files(step):
    return sorted((ROOT / step).glob("*.py"))


@pytest.mark.parametrize("step", STEPS)
def test_no_step_imports_from_another_step(step):
    others = set(STEPS) - {step}
    for path in python_files(step):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in others, f"{path.name} imports {name}"


# What each step brings: the modules it adds and changes, and the lines it removes.
MANIFEST = {entry["folder"]: entry for entry in load_steps()}
# What a step brings besides its package, each where the repository looks for it.
PIECES = {
    "its README, in the step template": "{folder}/README.md",
    "its API description": "{folder}/openapi.yaml",
    "its notebook": "notebooks/{folder}.ipynb",
    "its tests module": "tests/test_{folder}.py",
}
# The sections of every step README, in this order (others may come between them).
TEMPLATE = ["What this step adds", "Run it", "Try it", "How it works", "Exercise", "Next"]


def test_the_step_folders_are_found_by_their_numbers(tmp_path):
    for name in ["step10_ten", "step2_two", "step1_one", "step9_nine", "notes", "steps.py"]:
        (tmp_path / name).mkdir()
    (tmp_path / "step3_a_file.py").write_text("")  # a file is no step
    for number in range(3, 9):
        (tmp_path / f"step{number}_n").mkdir()
    found = find_steps(tmp_path)
    assert [number_of(folder) for folder in found] == list(range(1, 11))
    assert found[-1] == "step10_ten"
    (tmp_path / "step12_twelve").mkdir()
    with pytest.raises(ValueError, match="no folder for step 11"):
        find_steps(tmp_path)
    (tmp_path / "step11_eleven").mkdir()
    (tmp_path / "step11_again").mkdir()
    with pytest.raises(ValueError, match="two folders for step 11"):
        find_steps(tmp_path)


def test_the_makefile_finds_the_step_folders_by_their_numbers(tmp_path):
    for number in range(1, 12):
        (tmp_path / f"step{number}_s{number}").mkdir()
    printed = make("valid-step", "STEP=12", cwd=tmp_path)
    assert printed.returncode == 2
    assert "STEP must be 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 or 11 (got '12')" in printed.stderr
    assert "[STEP=1..11]" in make("help", cwd=tmp_path).stdout  # 11 is the last, not 9


def test_the_manifest_has_one_entry_per_step_in_order():
    folders = [entry["folder"] for entry in load_steps()]
    assert folders == list(STEPS), "exercises/manifest.toml: one [[step]] per step folder"


def missing_pieces(root: Path, folder: str) -> list[str]:
    """What a step lacks of the files it must bring, each named as the file to add."""
    missing = [
        f"{path.format(folder=folder)} ({what})"
        for what, path in PIECES.items()
        if not (root / path.format(folder=folder)).is_file()
    ]
    if folder not in MANIFEST:
        missing.append(f"exercises/manifest.toml: a [[step]] with folder = {folder!r}")
    else:
        facts = [key for key in ("adds", "changes") if key not in MANIFEST[folder]]
        missing += [
            f"exercises/manifest.toml: `{fact}` in the [[step]] of {folder}" for fact in facts
        ]
    return missing


def test_a_step_without_its_pieces_is_told_which_files_to_add(tmp_path, monkeypatch):
    (tmp_path / "step9_nine").mkdir()
    assert missing_pieces(tmp_path, "step9_nine") == [
        "step9_nine/README.md (its README, in the step template)",
        "step9_nine/openapi.yaml (its API description)",
        "notebooks/step9_nine.ipynb (its notebook)",
        "tests/test_step9_nine.py (its tests module)",
        "exercises/manifest.toml: a [[step]] with folder = 'step9_nine'",
    ]
    monkeypatch.setitem(MANIFEST, "step9_nine", {"folder": "step9_nine", "adds": []})
    assert missing_pieces(tmp_path, "step9_nine")[-1] == (
        "exercises/manifest.toml: `changes` in the [[step]] of step9_nine"
    )


@pytest.mark.parametrize("folder", STEPS)
def test_each_step_brings_its_pieces(folder):
    missing = missing_pieces(ROOT, folder)
    assert not missing, f"{folder} lacks: " + "; ".join(missing)
    readme = (ROOT / folder / "README.md").read_text()
    sections = [line[3:].strip() for line in readme.splitlines() if line.startswith("## ")]
    ordered = [section for section in sections if section in TEMPLATE]
    assert ordered == TEMPLATE, f"{folder}/README.md: sections ## {' / ## '.join(TEMPLATE)}"


def modules_up_to(folder: str) -> list[str]:
    """The modules a step has, by the manifest: what it and the steps before it add."""
    return sorted(
        name for before in STEPS[: STEPS.index(folder) + 1] for name in MANIFEST[before]["adds"]
    )


@pytest.mark.parametrize("folder", STEPS)
def test_every_step_is_a_package_of_the_same_modules(folder):
    assert [p.name for p in python_files(folder)] == modules_up_to(folder)


@pytest.mark.parametrize("step", STEPS)
def test_no_step_module_is_over_150_lines(step):
    lengths = {p.name: len(p.read_text().splitlines()) for p in python_files(step)}
    assert {name: n for name, n in lengths.items() if n > 150} == {}


def test_the_database_line_is_identical_in_every_step():
    lines = {
        step: [
            line
            for line in (ROOT / step / "settings.py").read_text().splitlines()
            if "DATABASE_URL" in line
        ]
        for step in STEPS
    }
    assert len({tuple(found) for found in lines.values()}) == 1
    assert len(lines[STEPS[0]]) == 1


@pytest.mark.parametrize("before, after", PAIRS, ids=[after for _, after in PAIRS])
def test_a_step_carries_over_every_module_it_does_not_change(before, after):
    changed = [
        p.name
        for p in python_files(before)
        if p.read_text() != (ROOT / after / p.name).read_text()
    ]
    assert changed == sorted(MANIFEST[after]["changes"]), "exercises/manifest.toml: changes"


@pytest.mark.parametrize("before, after", PAIRS, ids=[after for _, after in PAIRS])
def test_a_step_removes_at_most_a_handful_of_lines_of_the_previous_one(before, after):
    removed = []
    for path in python_files(before):
        old = path.read_text().splitlines()
        new = (ROOT / after / path.name).read_text().splitlines()
        removed += [
            f"{path.name}: {line[2:]}" for line in difflib.ndiff(old, new) if line[:2] == "- "
        ]
    imports = ("import ", "from ")
    others = [
        line
        for line in removed
        if not line.partition(": ")[2].startswith(imports)
        and not line.startswith('__init__.py: """Step ')
    ]
    assert len(others) <= 6, "\n".join(others)
    listed = [line for line in MANIFEST[after].get("removes_lines", []) if ".py: " in line]
    assert others == listed, "\n".join(others)


@pytest.mark.parametrize(
    "number, module, concept",
    [
        (2, "models.py", "pwd_context.hash"),
        (3, "api.py", '@api.post("/api/users")'),
        (3, "credentials.py", "get_profile(profile).enforce(value)"),
        (4, "auth.py", "@auth.verify_password"),
        (5, "api.py", '@api.post("/api/tokens")'),
        (6, "auth.py", "@limit_failures"),
        (6, "limits.py", "limiter = Limiter(client_address)"),
    ],
)
def test_make_diff_shows_the_concept(number, module, concept):
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "diff", f"STEP={number}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"+++ {STEPS[number - 1]}/{module}" in result.stdout
    added = [line[1:] for line in result.stdout.splitlines() if line.startswith("+")]
    assert any(concept in line for line in added)
    assert "/README.md\t" not in result.stdout  # no README diffs


def test_make_diff_shows_a_new_module_whole():
    result = make("diff", "STEP=3", check=True)
    added = [line[1:] for line in result.stdout.splitlines() if line.startswith("+")]
    for module in MANIFEST["step3_registration"]["adds"]:
        lines = (ROOT / "step3_registration" / module).read_text().splitlines()
        assert f"+++ step3_registration/{module}" in result.stdout
        assert all(line in added for line in lines), module


def compared_files(diff: str) -> list[str]:
    """The files a diff shows, in its order, by the name of the newer one."""
    newer = [line[4:].split("\t")[0] for line in diff.splitlines() if line.startswith("+++ ")]
    return [Path(name).name for name in newer]


@pytest.mark.parametrize("number", range(2, len(STEPS) + 1))
def test_make_diff_leads_with_the_concept_and_leaves_the_description_to_api_1(number):
    entry = MANIFEST[STEPS[number - 1]]
    shown = make("diff", f"STEP={number}", check=True).stdout
    files = compared_files(shown)
    concept = [name for name in files if name in entry["concept"]]
    assert concept and files[: len(concept)] == concept, files  # the concept first
    assert concept == [name for name in entry["concept"] if name in concept]  # as it teaches
    rest = files[len(concept) :]
    assert sorted(rest) == sorted(set(entry["adds"] + entry["changes"]) - set(concept))
    if rest:
        header = f"# The rest, which step {number}'s exercise gives whole: {', '.join(rest)}"
        assert shown.index(header) > shown.index(f"+++ {STEPS[number - 1]}/{concept[-1]}")
    assert "openapi.yaml" not in files
    before, after = (ROOT / folder / "openapi.yaml" for folder in STEPS[number - 2 : number])
    grows = before.read_text() != after.read_text()
    assert (f"make diff STEP={number} API=1" in shown) == grows
    with_api = compared_files(make("diff", f"STEP={number}", "API=1", check=True).stdout)
    assert with_api == [*files, *(["openapi.yaml"] if grows else [])]


@pytest.mark.parametrize("number", range(1, len(STEPS) + 1))
def test_make_diff_workshop_shows_only_what_the_learner_writes(number, tmp_path):
    write_starter(number, tmp_path)
    shown = make("diff", f"STEP={number}", "WORKSHOP=1", f"WORKSHOP_DIR={tmp_path}", check=True)
    concept = MANIFEST[STEPS[number - 1]]["concept"]
    assert compared_files(shown.stdout) == concept
    missing = [line for line in shown.stdout.splitlines() if "\t1970-01-01" in line]
    assert missing == []  # no file that the starter has whole shows as missing


def collect_step_tests(number: int, **env: str) -> subprocess.Popen:
    """Start `pytest --collect-only -m step<n>` on the step tests modules."""
    modules = sorted(str(path) for path in (ROOT / "tests").glob("test_step*_*.py"))
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", f"step{number}", *modules],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
    )


def selected_cases(collecting: subprocess.Popen) -> set[tuple[str, str]]:
    """What the collection selected: (test, case) pairs, whichever step each ran against."""
    collected, _ = collecting.communicate()
    assert collecting.returncode == 0, collected
    ids = re.findall(r"^(tests/\S+?)\[(.*)\]$", collected, re.MULTILINE)
    return {(test, re.sub(r"-?step\d+_\w+", "", params, count=1)) for test, params in ids}


def test_make_test_step_n_selects_every_case_of_the_code_its_step_carries():
    """A table marked carried(...) runs fewer times, but each step still selects it whole."""
    # STEPS_ROOT (make check) keeps every case on every step: nothing is left out there.
    every = collect_step_tests(len(STEPS), STEPS_ROOT=str(ROOT))
    fewer = collect_step_tests(len(STEPS))
    assert selected_cases(fewer) == selected_cases(every)


def test_a_contract_runs_from_its_step_on_or_until_a_step_that_changes_it():
    def ids(params):
        return [(param.id, [mark.name for mark in param.marks]) for param in params]

    assert ids(steps_from(len(STEPS) - 1)) == [
        (STEPS[-2], [f"step{len(STEPS) - 1}"]),
        (STEPS[-1], [f"step{len(STEPS)}"]),
    ]
    first, until = 2, 3  # a contract that step 2 sets and step 4 changes
    assert ids(steps_from(first, until=until)) == [(STEPS[1], ["step2"]), (STEPS[2], ["step3"])]
    assert ids(steps_from(first, until=len(STEPS) + 5)) == ids(steps_from(first))
