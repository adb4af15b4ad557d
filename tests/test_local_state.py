"""The learner's environment and local state: make install-dependencies and make clean.

Each make here gets a scratch VIRTUAL_ENV or runs the Makefile in a scratch folder, so the
checkout's .venv, databases and caches are never touched.
"""

import os
import re
import subprocess
import venv
from pathlib import Path

import pytest

from exercises import workshop
from steps import STEPS
from tests.helpers import make
from tests.live import ROOT


@pytest.mark.parametrize("python", ["python3.999", "/no/such/folder/bin/python3"])
def test_a_python_that_does_not_exist_is_named_with_how_to_point_at_one(python, tmp_path):
    result = make("install-dependencies", f"PYTHON={python}", f"VIRTUAL_ENV={tmp_path / 'env'}")
    assert result.returncode != 0
    assert f"PYTHON={python}: command not found" in result.stderr
    assert "make install-dependencies PYTHON=python3.12" in result.stderr
    # A full path works too, such as one of the interpreters pyenv installs.
    assert re.search(r"PYTHON=/\S+/\.pyenv/versions/3\.\d+\.\d+/bin/python3", result.stderr)
    assert "3.11 or newer is needed" not in result.stderr
    assert not (tmp_path / "env").exists()


def older_pythons() -> list[Path]:
    """The interpreters older than 3.11 that pyenv installed, oldest first."""
    found = []
    for folder in (Path.home() / ".pyenv" / "versions").glob("3.*"):
        minor = re.fullmatch(r"3\.(\d+)\.\d+", folder.name)
        if minor and int(minor[1]) < 11 and (folder / "bin" / "python3").exists():
            found.append((int(minor[1]), folder / "bin" / "python3"))
    return [python for _, python in sorted(found)]


@pytest.mark.skipif(not older_pythons(), reason="no Python older than 3.11 installed by pyenv")
def test_a_python_older_than_3_11_is_refused_with_its_version(tmp_path):
    python = older_pythons()[-1]
    result = make("install-dependencies", f"PYTHON={python}", f"VIRTUAL_ENV={tmp_path / 'env'}")
    assert result.returncode != 0
    assert "Python 3.11 or newer is needed" in result.stderr
    assert f"{python} is Python 3." in result.stderr
    assert "command not found" not in result.stderr
    assert not (tmp_path / "env").exists()


def find_package(python: Path, package: str, pythonpath: str | None = None) -> str:
    """Where `import package` would load it from, in a Python started in notebooks/."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    # find_spec locates the package without importing it: the scratch environment has no Flask.
    code = f"import importlib.util; print(importlib.util.find_spec({package!r}).origin)"
    result = subprocess.run(
        [python, "-c", code], cwd=ROOT / "notebooks", env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def installed_environment(tmp_path_factory) -> Path:
    """An environment whose requirements were installed before it had the .pth file."""
    environment = tmp_path_factory.mktemp("env")
    venv.create(environment, with_pip=False, symlinks=True)  # fast: nothing to install
    (environment / ".installed-requirements").touch()  # the stamp of an earlier install
    result = make("install-dependencies", f"VIRTUAL_ENV={environment}", check=True)
    assert "pip install" not in result.stdout  # nothing was reinstalled
    return environment


def test_make_install_dependencies_puts_the_repository_on_the_environments_path(
    installed_environment,
):
    python = installed_environment / "bin" / "python"
    for step in STEPS:
        assert find_package(python, step) == str(ROOT / step / "__init__.py")


def test_pythonpath_comes_first_so_a_workshop_copy_wins(installed_environment, tmp_path):
    workshop.write_starter(1, tmp_path)  # what `make notebook WORKSHOP=1` puts on PYTHONPATH
    python = installed_environment / "bin" / "python"
    found = find_package(python, STEPS[0], pythonpath=str(tmp_path))
    assert found == str(tmp_path / STEPS[0] / "__init__.py")


def scratch_checkout(root: Path, workshop_dir: Path) -> tuple[list[Path], list[Path]]:
    """A folder with the local state of a learner's checkout: what make clean removes, keeps."""
    removed = [
        root / "instance" / "step4_auth.sqlite",
        root / ".pytest_cache" / "README.md",
        root / ".hypothesis" / "constants" / "0123456789abcdef",
        root / ".test-browser" / "docs-page.png",
        root / "step4_auth" / "__pycache__" / "models.cpython-311.pyc",
        workshop_dir / "instance" / "step3_registration.sqlite",
    ]
    kept = [
        root / "step4_auth" / "auth.py",
        root / "step4_auth" / "openapi.yaml",
        root / "apidocs" / "docs-page.png",
        root / ".venv" / "lib" / "site-packages" / "flask_rest_auth_tutorial.pth",
        workshop_dir / "step3_registration" / "api.py",
        workshop_dir / "step3_registration.backup-20261129-090000" / "api.py",
        workshop_dir / ".hints.json",
    ]
    for path in removed + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    return removed, kept


@pytest.mark.parametrize("where", ["workshop", "elsewhere"])
def test_make_clean_deletes_the_databases_also_of_workshop_copies_and_never_code(tmp_path, where):
    root = tmp_path / "checkout"
    workshop_dir = root / "workshop" if where == "workshop" else tmp_path / "copies"
    removed, kept = scratch_checkout(root, workshop_dir)
    arguments = [] if where == "workshop" else [f"WORKSHOP_DIR={workshop_dir}"]
    make("clean", *arguments, cwd=root, check=True)
    assert [path for path in removed if path.exists()] == []
    assert [path for path in kept if not path.exists()] == []
