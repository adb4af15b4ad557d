"""Every step's notebook, run top to bottom against a real server of that step.

The notebooks assert what they show, so a notebook that runs without a cell error
is a passing test. Each parameter carries its step's marker: `make test STEP=n`
runs the notebook of step n.
"""

import nbformat
import pytest
from nbclient import NotebookClient

from tests.helpers import STEPS
from tests.live import ROOT

NOTEBOOKS = ROOT / "notebooks"


def notebook_params(*marks):
    return [
        pytest.param(number, name, id=name, marks=[getattr(pytest.mark, f"step{number}"), *marks])
        for number, name in enumerate(STEPS, start=1)
    ]


def read(name):
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=nbformat.NO_CONVERT)


def test_there_is_one_notebook_per_step():
    assert sorted(path.stem for path in NOTEBOOKS.glob("*.ipynb")) == sorted(STEPS)


@pytest.mark.parametrize("number, name", notebook_params())
def test_notebook_is_committed_without_outputs_for_python3(number, name):
    notebook = read(name)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {index} has outputs"
            assert cell.execution_count is None, f"cell {index} has an execution count"


@pytest.mark.parametrize("number, name", notebook_params(pytest.mark.live))
def test_notebook_runs_against_its_server(number, name, live_server):
    server = live_server(number)
    client = NotebookClient(
        read(name),
        kernel_name="python3",
        timeout=60,  # per cell
        startup_timeout=120,  # a kernel can take long to start on a loaded machine
        resources={"metadata": {"path": str(NOTEBOOKS)}},  # the kernel's working folder
        extra_arguments=["--InteractiveShell.colors=nocolor"],  # plain tracebacks in reports
    )
    # The server's environment (its DATABASE_URL; PYTHONPATH with the repository, as
    # `make notebook` sets it, and the cheap test hashing), plus the server's address.
    env = {**server.environment(), "API_URL": server.url}
    # A cell error raises CellExecutionError, whose message shows the cell and its error.
    client.execute(env=env)
