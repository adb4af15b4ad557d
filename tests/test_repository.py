"""The rules that keep the steps a readable, incremental lesson."""

import ast
import difflib
import subprocess

import pytest

from tests.helpers import STEPS, make
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


# The modules a step adds, and the ones it changes: every other module it carries over
# from the step before is byte-identical, so `make diff STEP=n` shows the concept only.
FIRST_MODULES = ["__init__.py", "api.py", "errors.py", "logs.py", "models.py", "settings.py"]
ADDED = {
    "step3_registration": ["bodies.py", "credentials.py"],
    "step4_auth": ["auth.py", "headers.py"],
    "step5_tokens": ["foreign_keys.py"],
    "step6_throttling": ["counts.py", "limits.py"],
}
CHANGED = {
    "step2_hashing": ["__init__.py", "models.py"],
    "step3_registration": ["__init__.py", "api.py", "settings.py"],
    "step4_auth": ["__init__.py", "api.py"],
    "step5_tokens": [
        "__init__.py",
        "api.py",
        "auth.py",
        "headers.py",
        "logs.py",
        "models.py",
        "settings.py",
    ],
    "step6_throttling": ["__init__.py", "api.py", "auth.py", "settings.py"],
}
# Lines a step removes from the step before, other than imports and the package docstring's
# first line: step 5 protects /api/resource with a token or a password, which changes its
# decorator and its user, and two module docstrings that now speak of tokens.
ALSO_REMOVED = {
    "step5_tokens": [
        "api.py: @auth.login_required",
        'api.py:     return {"data": f"Hello, {auth.current_user().username}!"}',
        'auth.py: """Who is calling: a username and password, with HTTP Basic authentication'
        ' (RFC 7617)."""',
        'models.py: """The database: its users."""',
    ]
}


def test_every_step_is_a_package_of_the_same_modules():
    expected = list(FIRST_MODULES)
    for step in STEPS:
        expected = sorted(expected + ADDED.get(step, []))
        assert [p.name for p in python_files(step)] == expected
        assert (ROOT / step / "README.md").is_file()


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
    assert changed == CHANGED[after]


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
    assert others == ALSO_REMOVED.get(after, []), "\n".join(others)


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
    for module in ADDED["step3_registration"]:
        lines = (ROOT / "step3_registration" / module).read_text().splitlines()
        assert f"+++ step3_registration/{module}" in result.stdout
        assert all(line in added for line in lines), module
