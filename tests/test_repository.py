"""The rules that keep the steps a readable, incremental lesson."""

import ast
import difflib
import subprocess

import pytest

from tests.helpers import STEPS
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


def test_every_step_has_the_same_files():
    for step in STEPS:
        assert [p.name for p in python_files(step)] == ["__init__.py", "app.py"]
        assert (ROOT / step / "README.md").is_file()


def test_the_database_line_is_identical_in_every_step():
    lines = {
        step: [
            line
            for line in (ROOT / step / "app.py").read_text().splitlines()
            if "DATABASE_URL" in line
        ]
        for step in STEPS
    }
    assert len({tuple(found) for found in lines.values()}) == 1
    assert len(lines[STEPS[0]]) == 1


LIMITS = {"step5_tokens": 6}
ALSO_REMOVED = {
    "step5_tokens": [
        "    @auth.login_required",
        '        return {"data": f"Hello, {auth.current_user().username}!"}',
    ]
}


@pytest.mark.parametrize("before, after", PAIRS, ids=[after for _, after in PAIRS])
def test_a_step_removes_at_most_a_handful_of_lines_of_the_previous_one(before, after):
    old = (ROOT / before / "app.py").read_text().splitlines()
    new = (ROOT / after / "app.py").read_text().splitlines()
    removed = [line[2:] for line in difflib.ndiff(old, new) if line.startswith("- ")]
    # The module docstring and the import lines that gain names; step 5 also protects
    # /api/resource with a token or a password, which changes its decorator and its user.
    assert len(removed) <= LIMITS.get(after, 4), "\n".join(removed)
    others = [line for line in removed if not line.startswith(('"""', "import ", "from "))]
    assert others == ALSO_REMOVED.get(after, []), "\n".join(others)
    assert (ROOT / before / "__init__.py").read_text() == (
        ROOT / after / "__init__.py"
    ).read_text()


@pytest.mark.parametrize(
    "number, concept",
    [
        (2, "pwd_context.hash"),
        (3, '@app.post("/api/users")'),
        (4, "@auth.login_required"),
        (5, '@app.post("/api/tokens")'),
    ],
)
def test_make_diff_shows_the_concept(number, concept):
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "diff", f"STEP={number}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"+++ {STEPS[number - 1]}/app.py" in result.stdout
    assert concept in result.stdout
    assert "/README.md\t" not in result.stdout  # no README diffs
