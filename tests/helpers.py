"""Helpers for the test modules: which steps a test runs against, and common checks."""

import base64
import contextlib
import functools
import http.client
import importlib
import json
import os
import pkgutil
import re
import socket
import sqlite3
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from steps import folder_of, numbers_from
from tests.details import LEARNER_COPY, Detail, wanted
from tests.live import ROOT

PASSPHRASE = "correct-horse-battery-staple"
# How a stored hash begins: sha512_crypt's (steps 2 to 7), argon2id's (step 8 on).
HASH_PREFIXES = ("$6$", "$argon2id$")
# Every place where str.splitlines() ends a line (its documentation lists them; "\r\n" is
# one); and other control characters, ESC among them, which begins what a terminal obeys. A
# log line holds none of them as a client sent it (OWASP ASVS 5.0 V16.4.1).
LINE_BREAKS = ["\r\n", "\n", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
OTHER_CONTROLS = ["\x00", "\t", "\x1b", "\x7f", "\x80", "\x9f"]


def step_mark(number: int) -> pytest.MarkDecorator:
    """The marker of step n, which `make test STEP=n` (pytest -m stepN) selects."""
    return getattr(pytest.mark, f"step{number}")


def steps_from(first: int, until: int | None = None) -> list:
    """Parameters for a test of the contract that step `first` sets: what a client sees
    through the test client. It holds for every later step, so it runs against each of them
    (up to step `until` only, when a later step changes that contract)."""
    return [
        pytest.param(folder_of(number), id=folder_of(number), marks=step_mark(number))
        for number in numbers_from(first, until)
    ]


def live_steps(*numbers: int) -> list:
    """Parameters for tests of these steps by number, such as those that start a live server
    of each (`make run STEP=n`)."""
    return [
        pytest.param(number, id=f"step{number}", marks=step_mark(number)) for number in numbers
    ]


def concurrently(function, arguments):
    """Call function(argument) for every argument, each in its own thread, all at once."""
    start_together = threading.Barrier(len(arguments), timeout=60)

    def call(argument):
        start_together.wait()
        return function(argument)

    with ThreadPoolExecutor(max_workers=len(arguments)) as pool:
        return list(pool.map(call, arguments))


def basic_auth(username: str, password: str) -> dict[str, str]:
    """The Authorization header a client sends, built by hand (RFC 7617)."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def assert_problem(response, status):
    """An RFC 9457 problem: the right media type, title, integer status and a detail.

    Takes a Flask test client's response or a `requests` response from a live server. In a
    learner's copy, the detail is judged on what it says, not on our words (tests/details.py).
    """
    assert response.status_code == status
    assert response.headers["Content-Type"].split(";")[0] == "application/problem+json"
    body = json.loads(response.text)
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    if LEARNER_COPY:
        body["detail"] = Detail(body["detail"], status)
    return body


@contextlib.contextmanager
def stops_the_start(variable: str, words: str):
    """The block must raise ValueError about the FLASK_ variable, as a step's settings do
    for a value of the wrong kind. The solution's message is pinned ("<variable> <words>");
    a learner's copy says it its own way, and its message must name the variable."""
    with pytest.raises(ValueError) as raised:
        yield
    message = str(raised.value)
    if LEARNER_COPY:
        named = re.search(rf"(?<!\w){re.escape(variable)}(?!\w)", message)
        assert named, f"a ValueError that names {variable}, not {message!r}"
    else:
        assert f"{variable} {words}" in message, f"{variable} {words!r} not in {message!r}"


def assert_detail_says(problem: dict, words: str | tuple[str, ...]) -> None:
    """The problem's detail contains the words, or one of them when a tuple lists several.

    A tuple is for inputs whose true detail depends on the Python version (see DEEPLY_NESTED
    in test_step3_registration.py): each of its words must be true for that input.
    """
    alternatives = (words,) if isinstance(words, str) else words
    assert any(one in problem["detail"] for one in alternatives), wanted(
        problem["detail"], alternatives
    )


def assert_default_cost(context, password_hash: str) -> None:
    """The hash is of the context's default scheme, at its default cost: PassLib's
    custom_app_context (sha512_crypt, 656,000 rounds) up to step 7, argon2id from step 8."""
    handler = context.handler()  # the default scheme, with the context's settings
    assert context.identify(password_hash) == handler.name, password_hash
    assert handler.from_string(password_hash).rounds == handler.default_rounds, password_hash
    assert not context.needs_update(password_hash), password_hash  # nor any other setting


def assert_count(what: str, got: int, expected: int) -> None:
    """A count, whose failure says what was counted: "users stored: expected 0, got 1"."""
    assert got == expected, f"{what}: expected {expected}, got {got}"


@functools.cache
def modules_of(package) -> tuple:
    """The package and each of its modules, imported (listed once per run, not per test)."""
    names = [info.name for info in pkgutil.iter_modules(package.__path__)]
    return (package, *(importlib.import_module(f"{package.__name__}.{name}") for name in names))


class Step:
    """A step package and its modules: `step.User` is found in whichever module defines it.

    A test that replaces a name (`pwd_context`, `utc_now`) must replace it in
    every module that uses it, since each module imported its own reference: `replace`.
    """

    def __init__(self, package):
        self.name = package.__name__
        self.modules = modules_of(package)

    def __getattr__(self, name):
        for module in self.modules:
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(f"no module of {self.modules[0].__name__} has {name!r}")

    def replace(self, monkeypatch, name: str, value) -> int:
        """Set `name` to `value` in every module of the step that has it; return how many."""
        holders = [module for module in self.modules if hasattr(module, name)]
        for module in holders:
            monkeypatch.setattr(module, name, value)
        return len(holders)


class HashSpy:
    """Wraps a PassLib context and counts the hashes and verifications it does."""

    def __init__(self, context):
        self.context, self.hashed, self.verified = context, [], []

    def hash(self, password):
        self.hashed.append(password)
        return self.context.hash(password)

    def verify(self, password, stored_hash):
        self.verified.append(stored_hash)
        return self.context.verify(password, stored_hash)

    def __getattr__(self, name):  # the rest, such as needs_update, as the context has it
        return getattr(self.context, name)

    def verify_and_update(self, password, stored_hash):
        """PassLib's check at login in step 8, made of verify and hash above, so that a
        subclass that changes them changes it too: (verified, the new hash or None)."""
        verified = self.verify(password, stored_hash)
        upgrade = verified and self.context.needs_update(stored_hash)
        return verified, self.hash(password) if upgrade else None


def stored_users(database_url: str) -> dict[str, str]:
    """Every stored username and its hash, read straight from a server's database."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT username, password_hash FROM users"))
            return dict(rows.all())
    finally:
        engine.dispose()


def register_live(server, username: str, password: str = PASSPHRASE):
    """POST /api/users to a live server, as any HTTP client would."""
    body = {"username": username, "password": password}
    return requests.post(f"{server.url}/api/users", json=body, timeout=60)


@contextlib.contextmanager
def engines_disposed():
    """Dispose of every engine that connects while the block runs, once it ends: also the
    engine of an app that no test can reach, such as one whose create_app raised. Left to
    the garbage collector, a PostgreSQL connection of its pool ends in a ResourceWarning."""
    engines = set()

    def seen(connection) -> None:
        engines.add(connection.engine)

    event.listen(Engine, "engine_connect", seen)
    try:
        yield
    finally:
        event.remove(Engine, "engine_connect", seen)
        for engine in engines:
            engine.dispose()


@contextlib.contextmanager
def sqlite_lock(database_url: str, kind: str = "IMMEDIATE"):
    """Hold an SQLite database's lock from a second connection until the block ends.

    IMMEDIATE takes the write lock, as an open `make shell` transaction does after its
    first write: reads go on, writes wait. EXCLUSIVE stops reads too.
    """
    connection = sqlite3.connect(make_url(database_url).database, isolation_level=None)
    try:
        connection.execute(f"BEGIN {kind}")
        yield
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def make(*arguments: str, check: bool = False, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run a make target as a learner would, without the variables of a `make test` around us.

    `cwd` runs the repository's Makefile in another folder: its relative paths then point
    there, which lets a test try `make clean` on a scratch folder.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "STEP")}
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(cwd), "-f", str(ROOT / "Makefile"), *arguments],
        capture_output=True,
        text=True,
        check=check,
        env=env,
    )


def send_raw(server, data: bytes) -> tuple[int, str, bytes]:
    """Send bytes as they are, for framings that http.client would not write, then close
    our side. Returns the status, the Content-Type and the body of the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as connection:
        connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(connection)
        response.begin()
        return response.status, response.headers.get("Content-Type", ""), response.read()


def delete_user(app, step, user_id: int, how: str) -> None:
    """Delete a user through the app's session (the ORM or SQL), or from another client."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if how == "another-client" and url.get_backend_name() == "sqlite":
        # Like the sqlite3 shell: a connection that does not turn foreign keys on.
        with contextlib.closing(sqlite3.connect(url.database)) as connection:
            connection.execute("DELETE FROM users WHERE id = ?", (user_id,))
            connection.commit()
    elif how == "another-client":
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM users WHERE id = :id"), {"id": user_id})
        engine.dispose()
    else:
        with app.app_context():
            if how == "orm":  # as in make shell
                step.db.session.delete(step.db.session.get(step.User, user_id))
            else:
                step.db.session.execute(text("DELETE FROM users WHERE id = :id"), {"id": user_id})
            step.db.session.commit()
