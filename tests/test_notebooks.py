"""Every step's notebook, run top to bottom against a real server of that step.

The notebooks assert what they show, so a notebook that runs without a cell error
is a passing test. They run the way a learner opens them anywhere (Jupyter, VS Code,
`jupyter nbconvert --execute`): from notebooks/, with the project's environment as the
kernel and without the repository on PYTHONPATH. Each parameter carries its step's
marker: `make test STEP=n` runs the notebook of step n.
"""

import importlib
import os
import re
import shutil
import subprocess

import pytest
import requests

from notebooks import which_step
from steps import STEPS
from tests.live import ROOT, free_port

NOTEBOOKS = ROOT / "notebooks"


def notebook_params(*marks):
    return [
        pytest.param(number, name, id=name, marks=[getattr(pytest.mark, f"step{number}"), *marks])
        for number, name in enumerate(STEPS, start=1)
    ]


# nbformat and nbclient are imported where a test needs them, not at collection.


def read(name):
    import nbformat

    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=nbformat.NO_CONVERT)


def test_there_is_one_notebook_per_step():
    # Not counting what `jupyter nbconvert --to notebook --execute` writes beside them.
    names = [path.name.removesuffix(".ipynb") for path in NOTEBOOKS.glob("*.ipynb")]
    assert sorted(name for name in names if not name.endswith(".nbconvert")) == sorted(STEPS)


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout")
def test_git_ignores_the_notebooks_that_nbconvert_executes_but_not_the_notebooks():
    def ignored(name: str) -> bool:
        command = ["git", "-C", str(ROOT), "check-ignore", "--quiet", f"notebooks/{name}"]
        return subprocess.run(command).returncode == 0

    assert ignored("step1_models.nbconvert.ipynb")
    assert not ignored("step1_models.ipynb")


@pytest.mark.parametrize("number, name", notebook_params())
def test_notebook_is_committed_without_outputs_for_python3(number, name):
    import nbformat

    notebook = read(name)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {index} has outputs"
            assert cell.execution_count is None, f"cell {index} has an execution count"


CHEAP_KERNEL = (
    "from passlib.apps import custom_app_context; from tests.hashing import CHEAP_SETTINGS; "
    "custom_app_context.load(CHEAP_SETTINGS)"
)


def notebook_client(notebook):
    from nbclient import NotebookClient

    return NotebookClient(
        notebook,
        kernel_name="python3",  # the kernel of the environment running the tests
        timeout=60,  # per cell
        startup_timeout=120,  # a kernel can take long to start on a loaded machine
        resources={"metadata": {"path": str(NOTEBOOKS)}},  # the kernel's working folder
        extra_arguments=[
            "--InteractiveShell.colors=nocolor",  # plain tracebacks in reports
            # Before the first cell, as a fixture would: step 2's notebook hashes in the
            # kernel, with the tests' cheap PassLib context (tests/hashing.py).
            f"--IPKernelApp.exec_lines={CHEAP_KERNEL}",
        ],
    )


def kernel_environment(api_url: str, database_url: str | None = None) -> dict[str, str]:
    """What a learner's kernel has: no repository on PYTHONPATH (the environment's .pth file
    makes the steps importable), the server's address and, for steps 1 and 2, its database.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DATABASE_URL")}
    env.update(API_URL=api_url)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def code_cells(notebook) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


# A learner's copy words its details its own way (make check allows it), and `make notebook
# WORKSHOP=1` runs the notebooks against it: they check the facts a detail names, not our words.
OWN_WORDS = """

def own_words(detail):
    \"\"\"The same facts in other words, as a learner's copy might say them.\"\"\"
    changes = [(" must ", " has to "), ("Send ", "Please send "), ("Too many", "So many")]
    for ours, theirs in changes:
        detail = detail.replace(ours, theirs)
    return "Refused. " + detail
"""


def serve_in_own_words(number: int, name: str, live_server, tmp_path, env=None):
    """A server of a copy of the step whose details say the same in other words."""
    copy = tmp_path / name
    shutil.copytree(ROOT / name, copy, ignore=shutil.ignore_patterns("__pycache__"))
    errors = copy / "errors.py"
    source = errors.read_text()
    assert "detail=error.description" in source
    errors.write_text(
        source.replace("detail=error.description", "detail=own_words(error.description)")
        + OWN_WORDS
    )
    workshop = {"WORKSHOP": "1", "WORKSHOP_DIR": str(tmp_path)}
    env = {"FLASK_RATELIMIT_ENABLED": "true", **(env or {})}
    server = live_server(number, make_vars=workshop, env=env)
    assert "Refused. " in requests.get(f"{server.url}/api/users/0", timeout=10).json()["detail"]
    return server


def run_against(number: int, name: str, server, tmp_path):
    """Run the step's notebook against the server; check that its first cell knows the step.
    From step 3 on, the kernel imports the copy in tmp_path, as make notebook WORKSHOP=1."""
    notebook = read(name)
    env = kernel_environment(server.url, server.database_url)
    if number > 2:
        env["PYTHONPATH"] = str(tmp_path)
    # A cell error raises CellExecutionError, whose message shows the cell and its error.
    notebook_client(notebook).execute(env=env)
    said = "".join(output.get("text", "") for output in code_cells(notebook)[0].outputs)
    # Over HTTP, steps 1 and 2 are the same API, and so are steps 5 and 6: the cell says so.
    alike = {
        1: "Step 1 or step 2",
        2: "Step 2 or step 1",
        5: "Step 5 or step 6",
        6: "Step 6 or step 5",
    }
    step = alike.get(number, f"Step {number}")
    assert said.startswith(f"{step} answers at {server.url}")
    return env


# Step 6's notebook runs twice against one server, in the test after this one: its first run
# is step 6's run here.
RUNS_TWICE = 6


@pytest.mark.parametrize(
    "number, name",
    [param for param in notebook_params(pytest.mark.live) if param.values[0] != RUNS_TWICE],
)
def test_notebook_runs_against_its_server(number, name, live_server, tmp_path):
    # As `make run` starts it: with step 6's limits on, which its notebook shows. From step 3
    # on, the step's details are worded as a learner's copy might word them: one run proves
    # that the notebook works against the step and reads no detail word for word.
    if number > 2:
        server = serve_in_own_words(number, name, live_server, tmp_path)
    else:
        server = live_server(number, env={"FLASK_RATELIMIT_ENABLED": "true"})
    run_against(number, name, server, tmp_path)


@pytest.mark.live
@pytest.mark.step6
def test_step_6s_notebook_runs_again_and_says_when_the_address_is_limited(live_server, tmp_path):
    from nbclient.exceptions import CellExecutionError

    # An address limit that a first run (21 wrong passwords) leaves room in, and a second
    # run fills: the second run gets past the cells that register, with names of its own,
    # and stops at the first guess that the address's count refuses, saying what to do.
    name = STEPS[RUNS_TWICE - 1]
    limit = {"FLASK_FAILED_LOGINS_PER_ADDRESS": "30 per hour"}
    server = serve_in_own_words(RUNS_TWICE, name, live_server, tmp_path, env=limit)
    kernel = run_against(RUNS_TWICE, name, server, tmp_path)
    again = read(name)
    with pytest.raises(CellExecutionError) as stopped:
        notebook_client(again).execute(env=kernel)
    assert "RuntimeError: Your address has sent all the wrong passwords" in str(stopped.value)
    assert "Restart the server" in str(stopped.value)
    cells = code_cells(again)
    ran = [cell for cell in cells if cell.execution_count is not None]
    assert "has a token" in "".join(output.get("text", "") for output in ran[2].outputs)
    assert ran[-1] is cells[3]  # the ten guesses for her name: the 30th failure is refused


@pytest.mark.parametrize("number, name", notebook_params())
def test_every_notebook_checks_for_its_server_with_the_same_first_cell(number, name):
    # So that the kernel tests below, on two notebooks, speak for every notebook.
    first = code_cells(read(STEPS[0]))[0].source
    expected = first.replace("check_server(1, ", f"check_server({number}, ")
    assert code_cells(read(name))[0].source == expected


def stop_at_the_first_cell(name: str, env: dict[str, str]) -> str:
    """Run all of a notebook that must stop at its first code cell; return the error shown."""
    from nbclient.exceptions import CellExecutionError

    notebook = read(name)
    with pytest.raises(CellExecutionError) as stopped:
        notebook_client(notebook).execute(env=env)
    # Nothing ran after the first code cell: "Run all" stops there.
    counts = [cell.execution_count for cell in code_cells(notebook)]
    assert counts == [1] + [None] * (len(counts) - 1)
    return str(stopped.value)


def assert_says_how_to_start(error: str, number: int) -> None:
    assert f"make run STEP={number}\n" in error
    assert "make notebook PORT=" in error and "API_URL=" in error


@pytest.mark.step1
def test_without_a_server_run_all_stops_at_the_first_cell_with_what_to_do():
    api_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    error = stop_at_the_first_cell(STEPS[0], kernel_environment(api_url))
    assert f"No server answers at {api_url}.\n" in error
    assert_says_how_to_start(error, 1)


@pytest.mark.step4
@pytest.mark.live
def test_with_another_step_running_run_all_stops_at_the_first_cell_with_what_to_do(live_server):
    server = live_server(3)
    error = stop_at_the_first_cell(STEPS[3], kernel_environment(server.url))
    assert f"The server at {server.url} looks like step 3, not step 4: " in error
    assert "it has no GET /api/resource." in error
    assert "Stop it (Ctrl+C in its terminal)" in error
    assert_says_how_to_start(error, 4)


@pytest.mark.parametrize("number, name", notebook_params())
def test_the_first_cell_knows_the_routes_of_every_step(number, name):
    # notebooks/which_step.py tells a step by its routes: they must be the step's own.
    app = importlib.import_module(name).create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()  # only the URL map is needed
    routes = {
        (method, re.sub(r"<[^>]*?(\w+)>", r"<\1>", rule.rule))  # <int(max=...):id> is <id>
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == which_step.routes_of(number)


@pytest.mark.parametrize(
    "number, running, says",
    [
        (3, 1, "looks like step 1 or 2, not step 3: it has no POST /api/users."),
        (3, 4, "looks like step 4, not step 3: step 3 has no GET /api/resource."),
        (
            4,
            5,
            "looks like step 5 or 6, not step 4: step 4 has no POST /api/tokens, DELETE"
            " /api/tokens.",
        ),
    ],
)
def test_the_first_cell_says_which_step_answers_and_what_it_lacks_or_adds(number, running, says):
    found = which_step.routes_of(running)
    assert which_step.mismatch(number, "URL", found) == f"The server at URL {says}"


def test_the_first_cell_says_when_the_server_is_no_step_at_all():
    halfway = which_step.routes_of(4) | {("POST", "/api/tokens")}  # a step 5 copy in progress
    assert which_step.mismatch(5, "URL", halfway) == (
        "The server at URL is none of this tutorial's steps, not step 5: "
        "it has no DELETE /api/tokens."
    )
    assert which_step.mismatch(5, "URL", set()) == (
        "The server at URL is no step of this tutorial: it has none of their routes."
    )
