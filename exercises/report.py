"""A pytest plugin for `make check`: records what each test sent and what came back.

Loaded with `-p exercises.report` (never by `make test`). It wraps Flask's test client
to remember each test's last request and response, and writes one record per test to
the JSON file named by WORKSHOP_REPORT, which exercises/workshop.py turns into plain
language: what was sent, what was expected, what came back.
"""

import json
import os
import re
from pathlib import Path
from types import ModuleType

import pytest
from flask.testing import FlaskClient

SHORT = 90
exchanges: list[list] = []  # [what was sent, what came back, the response or None]
records: list[dict] = []


def shorten(text: str, limit: int = SHORT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_request(args, kwargs) -> str:
    path = args[0] if args and isinstance(args[0], str) else kwargs.get("path", "/")
    sent = f"{kwargs.get('method', 'GET')} {path}"
    if "json" in kwargs:
        sent += " " + json.dumps(kwargs["json"], ensure_ascii=False)
    elif kwargs.get("data") is not None:
        sent += f" {kwargs['data']!r}"
    if kwargs.get("content_type"):
        sent += f" as {kwargs['content_type']}"
    authorization = (kwargs.get("headers") or {}).get("Authorization")
    if authorization:
        sent += f" with Authorization: {authorization}"
    return shorten(sent)


def describe_response(response) -> str:
    got = response.status
    if response.mimetype == "application/problem+json":
        problem = response.get_json(silent=True, force=True)
        detail = problem.get("detail") if isinstance(problem, dict) else None
        if isinstance(detail, str):
            return shorten(f"{got}: {detail.split('. ')[0]}")
    body = response.get_data(as_text=True)
    return shorten(f"{got} {response.mimetype}: {body}" if body else got)


def record_exchanges(open_request):
    def open_and_record(self, *args, **kwargs):
        exchange = [describe_request(args, kwargs), "", None]  # stays so if the app raises
        exchanges.append(exchange)
        response = open_request(self, *args, **kwargs)
        exchange[1:] = [describe_response(response), response]
        return response

    return open_and_record


def raised_in_the_app(item, excinfo) -> bool:
    """Whether the learner's code is in the traceback, rather than only the test's."""
    step = item.funcargs.get("step") if hasattr(item, "funcargs") else None
    package = step.modules[0] if hasattr(step, "modules") else None  # tests.helpers.Step
    if not isinstance(package, ModuleType):
        return True  # no step to tell apart: say what was raised
    folder = Path(package.__file__).parent
    return any(Path(str(entry.path)).is_relative_to(folder) for entry in excinfo.traceback)


def failing_statement(item, excinfo) -> str:
    """The statement of the test that failed (the call of a helper, when one failed)."""
    own = [entry for entry in excinfo.traceback if Path(str(entry.path)) == item.path]
    return " ".join(str(own[-1].statement).split()) if own else ""


def unreadable(excinfo, statement: str) -> str:
    """What a test expected to find in a response that did not have it.

    The test raised while reading what came back (a missing header or key, a body that is
    not JSON): that is the server's answer falling short, said as an expectation.
    """
    error = excinfo.value
    if isinstance(error, KeyError) and error.args:  # Werkzeug's headers raise a KeyError too
        key = str(error.args[0])
        header = re.search(rf"headers\[['\"]{re.escape(key)}['\"]\]", statement)
        wanted = f"a {key} header" if header else f"{key!r} in what came back"
    elif isinstance(error, json.JSONDecodeError):
        wanted = "a JSON body"
    else:
        wanted = f"an answer the test can read ({shorten(str(error), 60)})"
    return f"expected {wanted}" + (
        f" (the test reads: {shorten(statement, 70)})" if statement else ""
    )


# A failed `assert value.method(argument)`: pytest's "where" lines name the call, as
# `where False = <built-in method startswith of str object at 0x...>('x')` or
# `where True = verify_password('x')`, and then what it was called on.
CALLED = re.compile(r"where (?:True|False) = (.+?)\((.*)\)$")
METHOD_WORDS = {"startswith": "start with", "endswith": "end with"}
# The app and the test's own objects, which a test helper takes first: nothing to a learner.
INTERNALS = re.compile(r"<(?:Flask '[^']*'|[\w.]+ object at 0x[0-9a-f]+)>(?:, )?")


def expected_call(message: str, first: str, namespace: dict | None = None) -> str | None:
    """What a failed check of a method's answer expected, in words, or None if it is not one.

    A check by a helper of the test module (found in `namespace`) whose docstring says
    "Whether ..." is said with that docstring.
    """
    if first.removeprefix("assert ") not in ("False", "not True"):
        return None
    lines = [line.strip(" +") for line in message.splitlines()[1:]]
    call = next((CALLED.match(line) for line in lines if CALLED.match(line)), None)
    if call is None:
        return None
    callee, argument = call[1], INTERNALS.sub("", call[2])
    method = re.sub(r"^<.*method (?:\w+\.)?(\w+) of .*>$", r"\1", callee)
    owner = next(
        (
            line.split(" = ", 1)[1].rpartition(".")[0]
            for line in lines
            if line.startswith(f"where {callee} = ")
        ),
        None,
    )
    negated = "not " if first.endswith("not True") else ""
    if owner is None:  # a function, such as a helper of the test module
        doc = getattr((namespace or {}).get(callee), "__doc__", None) or ""
        if doc.startswith("Whether ") and not negated:
            said = doc.split("\n\n")[0].removeprefix("Whether ").rstrip(".")
            return f"expected that {' '.join(said.split())} ({shorten(argument, 80)})"
        return f"expected {callee}({shorten(argument, 80)}) {negated}to be true"
    owner = shorten(owner.removeprefix("<").removesuffix(">"), 60)  # <User 1>: User 1
    if method in METHOD_WORDS:
        return f"expected {owner} {negated}to {METHOD_WORDS[method]} {argument}"
    return f"expected {method}({argument}) of {owner} {negated}to be true"


def expectation(item, report, call, response) -> str:
    """What the failed check expected, from pytest's message for it, or what was raised."""
    if call.excinfo is not None and not call.excinfo.errisinstance(AssertionError):
        raised = f"{call.excinfo.typename}: " + shorten(str(call.excinfo.value))
        if raised_in_the_app(item, call.excinfo):
            return f"raised {raised}"
        if response is not None and not call.excinfo.errisinstance(AttributeError):
            return unreadable(call.excinfo, failing_statement(item, call.excinfo))
        # The test found something missing in the step itself (a model, a method, a table).
        return f"expected the step to have what the test uses ({raised})"
    crash = getattr(report.longrepr, "reprcrash", None)
    message = crash.message if crash else ""
    first = message.splitlines()[0] if message else "failed"
    first = first.removeprefix("AssertionError: ")
    if re.search(r": expected .+, got ", first):  # a count, said by the test (assert_count)
        return first
    assertion = re.fullmatch(r"assert (.+) == (.+)", first)
    if assertion:
        return f"expected {shorten(assertion[2], 60)}, not {shorten(assertion[1], 60)}"
    described = expected_call(message, first, vars(item.module))
    if described:
        return described
    if first in ("assert False", "assert not True", "assert None"):  # nothing to say but the check
        statement = failing_statement(item, call.excinfo) if call.excinfo else ""
        return f"expected this check to hold: {shorten(statement or first, 80)}"
    # The expectation whole (only what was sent and what came back are cut short).
    return "expected " + " ".join(first.removeprefix("assert ").split())


def pytest_configure(config):
    FlaskClient.open = record_exchanges(FlaskClient.open)


def pytest_runtest_logstart(nodeid, location):
    exchanges.clear()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" or (report.when == "setup" and report.failed):
        callspec = getattr(item, "callspec", None)
        step = callspec.params.get("step", "") if callspec else ""
        case = callspec.id.replace(step, "").strip("-") if callspec else ""
        sent, got, response = exchanges[-1] if exchanges else ("", "", None)
        records.append(
            {
                "step": step,
                "module": item.module.__name__,
                "test": item.originalname,
                "case": case,
                "outcome": report.outcome,
                "stage": report.when,
                "sent": sent if report.failed else "",
                "expected": expectation(item, report, call, response) if report.failed else "",
                "got": got if report.failed else "",
            }
        )
    return report


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("WORKSHOP_REPORT")
    if path:
        with open(path, "w") as file:
            json.dump(records, file, indent=1)
