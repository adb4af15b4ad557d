"""Adding a step is a folder and the few files that go with it, never an edit elsewhere.

A scratch copy of the repository gets step N+1: the last step's folder, notebook and tests
module copied under a new name, its package docstring renumbered, and one manifest entry.
Then the Makefile, pytest and the repository's rules find it, with no other file edited.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from steps import LAST, STEPS
from tests.live import ROOT, LiveServer

pytestmark = pytest.mark.live

NEW = LAST + 1
FOLDER = f"step{NEW}_copy"
# What is not the repository: environments, caches, local state, learners' copies.
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "workshop", "instance", "__pycache__", ".*_cache", ".hypothesis", ".bench"
)


def add_a_step(root: Path) -> None:
    """Step N+1: a copy of step N and of the files that go with it, renamed."""
    last = STEPS[-1]
    shutil.copytree(root / last, root / FOLDER, ignore=NOT_COPIED)
    package = root / FOLDER / "__init__.py"
    package.write_text(re.sub(r'^"""Step \d+', f'"""Step {NEW}', package.read_text()))
    shutil.copy(root / "notebooks" / f"{last}.ipynb", root / "notebooks" / f"{FOLDER}.ipynb")
    shutil.copy(root / "tests" / f"test_{last}.py", root / "tests" / f"test_{FOLDER}.py")
    manifest = root / "exercises" / "manifest.toml"
    text = manifest.read_text()
    entry = text[text.rindex("[[step]]\n") :].replace(f'folder = "{last}"', f'folder = "{FOLDER}"')
    entry = re.sub(r"(?m)^adds = .*$", "adds = []", entry)
    entry = re.sub(r"(?m)^changes = .*$", 'changes = ["__init__.py"]', entry)
    entry = re.sub(r"(?ms)^removes_lines = \[.*?\]\n", "", entry)  # a copy removes nothing
    manifest.write_text(text + "\n" + entry)


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> Path:
    """A copy of the repository with step N+1. Copies keep their times, so that make finds
    the environment (VIRTUAL_ENV: the one running these tests) up to date, as it is here."""
    root = tmp_path_factory.mktemp("repository")
    shutil.copytree(ROOT, root, ignore=NOT_COPIED, dirs_exist_ok=True)
    add_a_step(root)
    return root


def run(root: Path, *command: str) -> subprocess.CompletedProcess:
    env = LiveServer(NEW, root, root=root).environment()
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)


def test_make_serves_the_new_step_by_default_and_by_its_number(repository, tmp_path):
    # The environment must not be reinstalled from the copy: that would point it at the copy.
    assert run(repository, "make", "-q", "install-dependencies").returncode == 0
    with LiveServer(NEW, tmp_path, root=repository) as server:
        response = requests.get(f"{server.url}/api/users/1", timeout=10)
        assert response.status_code == 404
        assert requests.get(f"{server.url}/openapi.yaml", timeout=10).ok
    assert f"Serving {FOLDER} on {server.url}" in server.log_text()
    printed = run(repository, "make", "-n", "run").stdout
    assert f'create_app("{FOLDER}")' in printed


def test_make_knows_the_new_step_and_compares_it_with_the_one_before(repository):
    assert f"STEP=1..{NEW}" in run(repository, "make", "help").stdout
    wrong = run(repository, "make", "diff", f"STEP={NEW + 1}")
    choices = ", ".join(map(str, range(1, NEW))) + f" or {NEW}"
    assert f"STEP must be {choices} (got '{NEW + 1}')" in wrong.stderr
    diff = run(repository, "make", "diff", f"STEP={NEW}")
    assert diff.returncode == 0, diff.stderr
    assert f"--- {STEPS[-1]}/__init__.py" in diff.stdout
    assert f'+"""Step {NEW}' in diff.stdout


def test_pytest_runs_the_earlier_steps_tests_against_the_new_step(repository):
    # The steps' own modules only: collecting the whole suite would import its tooling too.
    modules = [f"tests/test_{folder}.py" for folder in [*STEPS, FOLDER]]
    collected = run(
        repository,
        sys.executable,
        "-m",
        "pytest",
        "--collect-only",
        "-q",
        "-m",
        f"step{NEW}",
        *modules,
    )
    assert collected.returncode == 0, collected.stdout + collected.stderr
    ids = collected.stdout.splitlines()
    for folder in [*STEPS, FOLDER]:
        module = f"tests/test_{folder}.py::"
        assert any(i.startswith(module) and f"[{FOLDER}" in i for i in ids), folder


def test_the_repository_rules_hold_for_the_new_step(repository):
    checked = run(
        repository, sys.executable, "-m", "pytest", "-v", "tests/test_repository.py", "-k", FOLDER
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"test_each_step_brings_its_pieces[{FOLDER}] PASSED" in checked.stdout
