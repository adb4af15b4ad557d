"""Fixtures shared by every step's tests.

A test module picks the steps it runs against with `steps_from(n)`: the contract that
step n sets, what a client sees through the test client, also holds for every later step,
so its tests run against each of them and a regression in a later step's copy of the code
is caught (`steps_from(n, until=m)` when step m+1 changes that contract). A table of cases
that checks the rules of carried code, marked `carried(...)`, runs whole once per version
of that code and its first case on every step, and a unit test of a module, marked
`unit_of(...)`, once per version of the module (pytest_collection_modifyitems below), so
a new step costs about its own tests. Each parameter carries its step's marker, so
`pytest -m step3` (what `make test STEP=3` runs) selects everything step 3 must pass.

STEPS_ROOT=<folder> makes the tests import the steps found in that folder instead of
the solutions (`make check` tests a workshop copy this way; see exercises/).
"""

import ast
import contextlib
import functools
import importlib
import os
import sys
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, event, text

# Before tests.helpers is first imported: pytest rewrites its asserts too, so that a failing
# helper such as assert_problem reports the values it compared.
pytest.register_assert_rewrite("tests.helpers")

from steps import STEPS, number_of  # noqa: E402
from tests.details import explain  # noqa: E402
from tests.hashing import cheap_context  # noqa: E402
from tests.helpers import PASSPHRASE, HashSpy, Step, step_mark  # noqa: E402
from tests.live import ROOT, LiveServer  # noqa: E402

STEPS_ROOT = Path(os.environ["STEPS_ROOT"]).resolve() if os.environ.get("STEPS_ROOT") else None

# jsonschema (under nbformat, openapi-spec-validator and schemathesis) compiles 38 grammars
# at import (two seconds, in every worker) when rfc3987-syntax is installed, for formats no
# test uses: here it counts as missing.
sys.modules.setdefault("rfc3987_syntax", None)


def fresh_database_url(tmp_path: Path) -> str:
    """A new SQLite file, or TEST_DATABASE_URL (`make test-postgres`) emptied first."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'test.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS tokens"))  # step 5's, which refers to users
        connection.execute(text("DROP TABLE IF EXISTS users"))
    engine.dispose()
    return url


@pytest.fixture(autouse=True)
def no_inherited_flask_settings(monkeypatch):
    """A FLASK_ variable in the shell that runs the tests would change every app's settings."""
    for name in list(os.environ):
        if name.startswith("FLASK_"):
            monkeypatch.delenv(name)


def pytest_configure(config):
    """A marker per step folder: `pytest -m step3` selects what step 3 must pass."""
    for number, folder in enumerate(STEPS, start=1):
        config.addinivalue_line("markers", f"step{number}: what {folder} must pass")


def pytest_addoption(parser):
    parser.addoption(
        "--api-examples",
        type=int,
        default=3,
        help="examples that schemathesis generates per operation and mode (make test-api: more)",
    )
    parser.addoption(
        "--screenshot",
        default=".test-browser/docs-page.png",
        help="where make test-browser saves its screenshot of the docs page",
    )


@pytest.fixture
def step(request):
    """The step package under test, as a `Step` (parametrize with steps_from)."""
    # Done here, after collection: pytest puts the repository first on sys.path
    # whenever it imports a test module.
    if STEPS_ROOT and sys.path[0] != str(STEPS_ROOT):
        sys.path.insert(0, str(STEPS_ROOT))
    package = importlib.import_module(request.param)
    if STEPS_ROOT and not Path(package.__file__).is_relative_to(STEPS_ROOT):
        pytest.fail(f"STEPS_ROOT has no {request.param}/: found {package.__file__} instead")
    return Step(package)


@pytest.fixture
def cheap_hashing(step, request, monkeypatch) -> None:
    """The step hashes with the tests' cheap context (tests/hashing.py), unless `real_cost`."""
    if not request.node.get_closest_marker("real_cost"):
        # The dummy hash of steps 4+ is made by this context too, when first needed.
        context = cheap_context(getattr(step, "pwd_context", None))  # step 1 hashes nothing
        step.replace(monkeypatch, "pwd_context", context)


def what_a_test_may_change(app: Flask) -> tuple:
    """An app's settings, routes, hooks and error handlers, as values to compare."""

    def frozen(value):  # dicts, lists and sets as tuples; functions compare by identity
        if isinstance(value, dict):  # less what looking up a handler adds: empty entries
            items = ((key, frozen(item)) for key, item in value.items())
            return tuple((key, item) for key, item in items if item != ())
        if isinstance(value, list | tuple | set | frozenset):
            return tuple(frozen(item) for item in value)
        return value

    parts = [dict(app.config), sorted(map(repr, app.url_map.iter_rules()))]
    parts += [app.view_functions, app.error_handler_spec, app.teardown_appcontext_funcs]
    parts += [app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs]
    parts += [app.url_value_preprocessors, app.url_default_functions, app.blueprints]
    return frozen(parts) + (app.wsgi_app, app.request_class, app.response_class)


@pytest.fixture(scope="session")
def shared_apps():
    """The apps that tests share in this test process, by step (see `app`)."""
    apps: dict[str, tuple[Flask, tuple, Path]] = {}
    yield apps
    for app, _, _ in apps.values():
        with app.app_context():
            app.extensions["sqlalchemy"].engine.dispose()


def shared_app(step, apps: dict, tmp_path_factory) -> Flask:
    """The step's app that tests share, on a database emptied for this test."""
    if step.name in apps:
        app, changes, database = apps[step.name]
        with app.app_context():
            step.db.session.remove()
            step.db.engine.dispose()
        if what_a_test_may_change(app) == changes:
            for file in database.parent.iterdir():  # with any journal SQLite left
                file.unlink()  # a new file: new tables, and ids from 1 again
            with app.app_context():
                step.create_tables()
            return app
    database = tmp_path_factory.mktemp(step.name, numbered=True) / "test.sqlite"
    config = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"}
    app = step.create_app({**config, "RATELIMIT_ENABLED": False})
    apps[step.name] = (app, what_a_test_may_change(app), database)
    return app


@pytest.fixture
def app(step, request, cheap_hashing, shared_apps, tmp_path_factory):
    """The step's app, with TESTING on, step 6's limits off (unless marked `limits`), and an
    empty SQLite database of its own (or `make test-postgres`'s, emptied).

    Building an app costs 3 to 10 ms (Werkzeug compiles each route), two thousand times in
    a run: tests share one app per step in each test process, on an SQLite file made anew
    for each test. A test that changed the app's settings, routes or hooks leaves it to no
    other test: the next gets a new one. A test that adds routes or hooks, which Flask
    allows only before an app's first request, is marked `own_app`. Tests with the limits
    on, and tests on PostgreSQL (`make test-postgres`), each build their own app."""
    limits = bool(request.node.get_closest_marker("limits"))
    own = limits or request.node.get_closest_marker("own_app")
    if not own and not os.environ.get("TEST_DATABASE_URL"):
        yield shared_app(step, shared_apps, tmp_path_factory)
        return
    url = fresh_database_url(request.getfixturevalue("tmp_path"))
    config = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url}
    # Step 6 limits failed logins and registrations, which the tests of the steps before it
    # send by the dozen: they run step 6 as a load test would, with its limits off.
    app = step.create_app({**config, "RATELIMIT_ENABLED": limits})
    yield app
    with app.app_context():
        step.db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def add_user(app, step):
    """Store a user straight through the model, as the step READMEs do in `flask shell`."""

    def add(username: str = "alice", password: str = PASSPHRASE):
        with app.app_context():
            user = step.User(username=username)
            if hasattr(user, "hash_password"):
                user.hash_password(password)
            else:
                user.password_hash = "not a real hash: step 1 has no hashing yet"
            step.db.session.add(user)
            step.db.session.commit()
            return user.id

    return add


@contextlib.contextmanager
def live_servers(directory: Path):
    """Yield `start(step, **options)`; then stop every server started and check its log."""
    servers = []

    def start(step: int, **options) -> LiveServer:
        workdir = directory / f"server{len(servers)}"
        workdir.mkdir()
        options.setdefault("database_url", fresh_database_url(workdir))
        server = LiveServer(step, workdir, **options)
        servers.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
    for server in servers:  # a traceback is a 500 or a crash, even if the test passed
        assert "Traceback" not in server.log_text(), f"{server.log_path}:\n{server.log_text()}"


@pytest.fixture
def live_server(tmp_path):
    """Start real servers: `live_server(step=4)`; all are stopped after the test."""
    with live_servers(tmp_path) as start:
        yield start


@pytest.fixture(scope="module")
def shared_live_server(request, tmp_path_factory):
    """One server for all the tests of a module that use it: `request.param` is a step,
    served by `make run`, or a (step, target) pair such as (4, "serve") for gunicorn.

    Parametrize it with `indirect=True, scope="module"`: pytest then runs the tests
    server by server, so only one such server (and on PostgreSQL one users table) exists
    at a time. Its tests share the database: they compare it before and after a request.
    """
    step, target = request.param if isinstance(request.param, tuple) else (request.param, "run")
    options = {"target": "serve", "make_vars": {"WORKERS": "1"}} if target == "serve" else {}
    with live_servers(tmp_path_factory.mktemp(f"step{step}-{target}")) as start:
        yield start(step, **options)


@pytest.fixture
def spy(step, app, monkeypatch):
    """Count what the step hashes and verifies (after the cheap-hashing swap in `app`)."""
    spy = HashSpy(step.pwd_context)
    step.replace(monkeypatch, "pwd_context", spy)
    return spy


@pytest.fixture
def short_busy_timeout(app, step):
    """SQLite waits 5 s for a lock (Python's default); in-process tests wait 0.1 s."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("holds an SQLite lock")

    def on_connect(dbapi_connection, connection_record):
        dbapi_connection.execute("PRAGMA busy_timeout = 100")

    with app.app_context():
        engine = step.db.engine
    event.listen(engine, "connect", on_connect)
    engine.dispose()  # the pooled connections go; new ones wait 0.1 s
    yield
    event.remove(engine, "connect", on_connect)


def pytest_assertrepr_compare(op, left, right):
    """Say in words what a learner's problem detail lacks (tests/details.py)."""
    return explain(op, left, right)


def names_bound_by(node: ast.stmt) -> set[str]:
    """The names a module's statement binds: a def or a class, an assignment, an import."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {alias.asname or alias.name for alias in node.names}
    if isinstance(node, ast.Assign):
        return {target.id for target in node.targets if isinstance(target, ast.Name)}
    return {node.name} if hasattr(node, "name") else set()


@functools.cache
def carried_code(folder: str, places: tuple[str, ...]) -> tuple[str, ...]:
    """The code of these places in a step folder, as text ("" where the step has none): a
    module ("bodies.py"), or what binds a name in one: a function or a class
    ("api.py:read_credentials"), an assignment or an import ("models.py:pwd_context")."""
    code = []
    for place in places:
        name, _, definition = place.partition(":")
        path = ROOT / folder / name
        text = path.read_text() if path.is_file() else ""
        if definition and text:
            tree = ast.parse(text).body
            nodes = [node for node in tree if definition in names_bound_by(node)]
            text = ast.get_source_segment(text, nodes[0]) if nodes else ""
        code.append(text)
    return tuple(code)


def same_code_as(item, folder: str, first_case: bool):
    """What a run of this test case on this step checks: runs that check the same code need
    only the first of them. None when the case runs on every step."""
    if item.get_closest_marker("real_cost"):  # what it checks is the step's hashing context
        return carried_code(folder, ("models.py:pwd_context",))
    places = {
        kind: tuple(place for mark in item.iter_markers(kind) for place in mark.args)
        for kind in ("carried", "unit_of")
    }
    unknown = [
        place
        for place in places["carried"] + places["unit_of"]
        if not any(carried_code(other, (place,))[0] for other in STEPS)
    ]
    if unknown:
        raise pytest.UsageError(f"{item.nodeid}: names code that no step has: {unknown}")
    if places["unit_of"]:  # a unit test: no route in between, every case once per version
        return carried_code(folder, places["unit_of"])
    if not places["carried"] or first_case:  # the first case of a table is the contract
        return None
    return carried_code(folder, places["carried"])


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by the markers added here
def pytest_collection_modifyitems(config, items):
    """Run no test twice on the same code.

    A test marked `carried("bodies.py", "api.py:read_credentials", ...)` checks the rules of
    that code, case by case. Its first case is the contract that the step's routes still
    apply them: it runs against every step. Every other case runs once per version of the
    code: a later step that carries it byte for byte (test_repository.py holds carried
    modules identical) runs it no more, and lends its marker to the run that checked that
    code, so `pytest -m step6` still selects everything step 6 must pass.

    A test marked `unit_of("models.py", ...)` calls that code itself, not through a route:
    each of its cases runs once per version of the code, first case included.

    A `real_cost` test runs once per hashing context: on the step whose module it is in,
    which stands for every later step with the same context. Each costs seconds of hashing,
    and what it checks is the line of models.py that makes `pwd_context`: PassLib's
    custom_app_context, imported by steps 2 to 7 unchanged, then step 8's argon2id.

    `make check` (STEPS_ROOT) keeps every test on every step: a learner's copy may differ.
    """
    if STEPS_ROOT:
        return
    kept, dropped = [], []
    first_cases: dict[tuple, str] = {}
    runs: dict[tuple, pytest.Item] = {}
    for item in items:
        callspec = getattr(item, "callspec", None)
        folder = callspec.params.get("step") if callspec else None
        if not isinstance(folder, str):  # no step package, or a live server's number
            kept.append(item)
            continue
        test = (item.module.__name__, item.originalname)
        case = callspec.id.replace(folder, "").strip("-")
        first_case = first_cases.setdefault(test, case) == case
        code = same_code_as(item, folder, first_case)
        run = None if code is None else runs.setdefault((test, case, code), item)
        if run is None or run is item:
            kept.append(item)
        else:  # the earlier run stands for this step too
            run.add_marker(step_mark(number_of(folder)))
            dropped.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
