"""Every step's notebook, run top to bottom against a real server of that step.

The notebooks assert what they show, so a notebook that runs without a cell error
is a passing test. They run the way a learner opens them anywhere (Jupyter, VS Code,
`jupyter nbconvert --execute`): from notebooks/, with the project's environment as the
kernel and without the repository on PYTHONPATH. Each parameter carries its step's
marker: `make test STEP=n` runs the notebook of step n.
"""

import os

import pytest

from tests.helpers import STEPS
from tests.live import FAST_HASHING, ROOT, free_port

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
    assert sorted(path.stem for path in NOTEBOOKS.glob("*.ipynb")) == sorted(STEPS)


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


def notebook_client(notebook):
    from nbclient import NotebookClient

    return NotebookClient(
        notebook,
        kernel_name="python3",  # the kernel of the environment running the tests
        timeout=60,  # per cell
        startup_timeout=120,  # a kernel can take long to start on a loaded machine
        resources={"metadata": {"path": str(NOTEBOOKS)}},  # the kernel's working folder
        extra_arguments=["--InteractiveShell.colors=nocolor"],  # plain tracebacks in reports
    )


def kernel_environment(api_url: str, database_url: str | None = None) -> dict[str, str]:
    """What a learner's kernel has: no repository on PYTHONPATH (the environment's .pth file
    makes the steps importable), the server's address and, for steps 1 and 2, its database.
    Only the cheap test hashing is on PYTHONPATH: step 2's notebook hashes in the kernel.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DATABASE_URL")}
    env.update(PYTHONPATH=str(FAST_HASHING), API_URL=api_url)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


@pytest.mark.parametrize("number, name", notebook_params(pytest.mark.live))
def test_notebook_runs_against_its_server(number, name, live_server):
    server = live_server(number)
    # A cell error raises CellExecutionError, whose message shows the cell and its error.
    notebook_client(read(name)).execute(env=kernel_environment(server.url, server.database_url))


def first_code_cell(name: str) -> str:
    return next(cell.source for cell in read(name).cells if cell.cell_type == "code")


@pytest.mark.parametrize("number, name", notebook_params())
def test_every_notebook_checks_for_its_server_with_the_same_first_cell(number, name):
    # So that the kernel test below, on step 1's notebook, speaks for every notebook.
    expected = first_code_cell(STEPS[0]).replace("make run STEP=1", f"make run STEP={number}")
    assert first_code_cell(name) == expected


@pytest.mark.step1
def test_without_a_server_run_all_stops_at_the_first_cell_with_what_to_do():
    from nbclient.exceptions import CellExecutionError

    notebook = read(STEPS[0])
    first = next(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code")
    api_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(CellExecutionError) as stopped:
        notebook_client(notebook).execute(env=kernel_environment(api_url))
    assert f"No server answers at {api_url}" in str(stopped.value)
    assert "make run STEP=1" in str(stopped.value)
    # Nothing ran after the first code cell: "Run all" stops there.
    ran = [i for i, cell in enumerate(notebook.cells) if cell.get("execution_count")]
    assert ran == [first]
