"""The check in every notebook's first cell: is the server at API_URL the notebook's step?

Each step adds routes to the step before it, and a server names the methods a path has in
the Allow header of its answer to OPTIONS (RFC 9110 §9.3.7). Asking that of every route
tells the steps apart, except a step that adds no route: over HTTP it looks like the step
before it. The routes of a step are those its openapi.yaml describes (tests/test_openapi.py
holds each description to its step's routes). The notebooks import this module through the
.pth file that `make install-dependencies` puts in .venv, so the check is written once, here.
"""

import functools
import re

import requests
import yaml

from steps import ROOT, STEPS, numbers_from

METHODS = ("get", "put", "post", "delete", "patch")


@functools.cache
def described_routes(number: int) -> tuple[tuple[str, str], ...]:
    """The routes of step n's description, in its order: (method, path), `<id>` being a
    user's id (OpenAPI's /api/users/{id} is Flask's /api/users/<id>)."""
    text = (ROOT / STEPS[number - 1] / "openapi.yaml").read_text(encoding="utf-8")
    document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return tuple(
        (method.upper(), re.sub(r"\{(\w+)\}", r"<\1>", path))
        for path, operations in document["paths"].items()
        for method in operations
        if method in METHODS
    )


def all_routes() -> list[tuple[str, str]]:
    """Every route of the tutorial, in the order the steps add them."""
    every = (route for number in numbers_from(1) for route in described_routes(number))
    return list(dict.fromkeys(every))


Routes = set[tuple[str, str]]


def routes_of(step: int) -> Routes:
    """The routes of a step: those its description lists."""
    return set(described_routes(step))


def steps_with(routes: Routes) -> list[int]:
    """The steps whose routes are exactly these: more than one when a step adds none."""
    return [number for number in numbers_from(1) if routes_of(number) == routes]


def routes_at(api_url: str, timeout: float) -> Routes:
    """The routes of the tutorial that the server at api_url has, by OPTIONS on each path."""
    every, found = all_routes(), set()
    for path in dict.fromkeys(path for _, path in every):
        response = requests.options(api_url + path.replace("<id>", "1"), timeout=timeout)
        allow = response.headers.get("Allow", "") if response.ok else ""
        methods = {method.strip().upper() for method in allow.split(",")}
        found |= {(method, p) for method, p in every if p == path and method in methods}
    return found


def named(steps: list[int]) -> str:
    return "step " + " or ".join(map(str, steps))


def listed(routes: Routes) -> str:
    in_order = [route for route in all_routes() if route in routes]
    return ", ".join(f"{method} {path}" for method, path in in_order)


def mismatch(step: int, api_url: str, found: Routes) -> str:
    """Why the server at api_url, which has the routes found, is not step `step`."""
    if not found:
        return f"The server at {api_url} is no step of this tutorial: it has none of their routes."
    missing, extra = routes_of(step) - found, found - routes_of(step)
    reasons = [f"it has no {listed(missing)}"] if missing else []
    reasons += [f"step {step} has no {listed(extra)}"] if extra else []
    alike = steps_with(found)
    server = f"looks like {named(alike)}" if alike else "is none of this tutorial's steps"
    return f"The server at {api_url} {server}, not step {step}: {'; '.join(reasons)}."


def how_to_start(step: int, first: str) -> str:
    return (
        f"{first}, in the repository, run\n\n    make run STEP={step}\n\n"
        "then run this cell again. To use a server at another address, start Jupyter with it\n"
        "(`make notebook PORT=5001`, or API_URL=http://127.0.0.1:5001 before any jupyter\n"
        "command), or set API_URL in this cell."
    )


def check_server(step: int, api_url: str, timeout: float) -> tuple[bool, str]:
    """Whether step `step` answers at api_url, with a message that says so or what to do."""
    try:
        found = routes_at(api_url, timeout)
    except (requests.ConnectionError, requests.Timeout):
        start = how_to_start(step, "In another terminal")
        return False, f"No server answers at {api_url}.\n{start}"
    alike = steps_with(found)
    if step not in alike:
        start = how_to_start(step, "Stop it (Ctrl+C in its terminal) and")
        return False, f"{mismatch(step, api_url, found)}\n{start}"
    others = [number for number in alike if number != step]
    if not others:
        return True, f"Step {step} answers at {api_url}. Run the cells below in order."
    return True, (
        f"Step {step} or {named(others)} answers at {api_url}: they have the same routes, so\n"
        "OPTIONS cannot tell them apart. Run the cells below in order."
    )
