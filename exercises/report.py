"""A pytest plugin for `make check`: records what each test sent and what came back.

Loaded with `-p exercises.report` (never by `make test`). It wraps Flask's test client
to remember each test's last request and response, and writes one record per test to
the JSON file named by WORKSHOP_REPORT, which exercises/workshop.py turns into plain
language: what was sent, what was expected, what came back.
"""

import json
import os
import re

import pytest
from flask.testing import FlaskClient

SHORT = 90
exchanges: list[list[str]] = []
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
        detail = (response.get_json(silent=True, force=True) or {}).get("detail") or ""
        return shorten(f"{got}: {detail.split('. ')[0]}")
    body = response.get_data(as_text=True)
    return shorten(f"{got} {response.mimetype}: {body}" if body else got)


def record_exchanges(open_request):
    def open_and_record(self, *args, **kwargs):
        exchange = [describe_request(args, kwargs), ""]  # stays empty if the app raises
        exchanges.append(exchange)
        response = open_request(self, *args, **kwargs)
        exchange[1] = describe_response(response)
        return response

    return open_and_record


def expectation(report, call) -> str:
    """What the failed check expected, from pytest's message for it, or what was raised."""
    if call.excinfo is not None and not call.excinfo.errisinstance(AssertionError):
        return f"raised {call.excinfo.typename}: " + shorten(str(call.excinfo.value))
    crash = getattr(report.longrepr, "reprcrash", None)
    message = crash.message if crash else ""
    first = message.splitlines()[0] if message else "failed"
    assertion = re.fullmatch(r"(?:AssertionError: )?assert (.+) == (.+)", first)
    if assertion:
        return f"expected {shorten(assertion[2], 60)}, not {shorten(assertion[1], 60)}"
    return "expected " + shorten(first.removeprefix("AssertionError: ").removeprefix("assert "))


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
        sent, got = exchanges[-1] if exchanges else ("", "")
        records.append(
            {
                "step": step,
                "module": item.module.__name__,
                "test": item.originalname,
                "case": case,
                "outcome": report.outcome,
                "stage": report.when,
                "sent": sent if report.failed else "",
                "expected": expectation(report, call) if report.failed else "",
                "got": got if report.failed else "",
            }
        )
    return report


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("WORKSHOP_REPORT")
    if path:
        with open(path, "w") as file:
            json.dump(records, file, indent=1)
