"""The check in every notebook's first cell: is the server at API_URL the notebook's step?

Each step adds routes to the step before it, and a server names the methods a path has in
the Allow header of its answer to OPTIONS (RFC 9110 §9.3.7). Asking that of every route
tells the steps apart, except a step that adds no route: over HTTP it looks like the step
before it. The notebooks import this module through the .pth file that
`make install-dependencies` puts in .venv, so the check is written once, here.
"""

import requests

# The routes each step adds to the step before it: (method, path), `<id>` being a user's id.
NEW_ROUTES = {
    1: [("GET", "/api/users/<id>")],
    2: [],  # password hashing changes what the database stores, not the API
    3: [("POST", "/api/users")],
    4: [("GET", "/api/resource")],
    5: [("POST", "/api/tokens"), ("DELETE", "/api/tokens")],
}
ALL_ROUTES = [route for routes in NEW_ROUTES.values() for route in routes]

Routes = set[tuple[str, str]]


def routes_of(step: int) -> Routes:
    """The routes of a step: its own and those of every step before it."""
    return {route for number, routes in NEW_ROUTES.items() if number <= step for route in routes}


def steps_with(routes: Routes) -> list[int]:
    """The steps whose routes are exactly these: more than one when a step adds none."""
    return [number for number in NEW_ROUTES if routes_of(number) == routes]


def routes_at(api_url: str, timeout: float) -> Routes:
    """The routes of ALL_ROUTES that the server at api_url has, by OPTIONS on each path."""
    found = set()
    for path in dict.fromkeys(path for _, path in ALL_ROUTES):
        response = requests.options(api_url + path.replace("<id>", "1"), timeout=timeout)
        allow = response.headers.get("Allow", "") if response.ok else ""
        methods = {method.strip().upper() for method in allow.split(",")}
        found |= {(method, p) for method, p in ALL_ROUTES if p == path and method in methods}
    return found


def named(steps: list[int]) -> str:
    return "step " + " or ".join(map(str, steps))


def listed(routes: Routes) -> str:
    return ", ".join(f"{method} {path}" for method, path in ALL_ROUTES if (method, path) in routes)


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
