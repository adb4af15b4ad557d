"""`make bench`, step 7: what the rules of who may do what cost a token request.

Steps 6 and 7 start side by side, the same way (the development server, or gunicorn with the
same workers). In one run: token requests on step 7 between two runs of the same load on
step 6, and `GET /api/users` (one page of 20) with an admin's token.
"""

import contextlib
import json
import statistics
import sys
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.load import Request, run_load
from tests.helpers import PASSPHRASE, basic_auth
from tests.live import LiveServer

USERS = 20  # one full page of GET /api/users


def with_token(token: str, path: str = "/api/resource") -> Request:
    return Request("GET", path, {"Authorization": f"Bearer {token}"})


def admin_token(server: LiveServer, admin: bool) -> str:
    """Register a user (an admin, where roles exist), add USERS - 1 more straight into the
    database with the same hash (no hash each), and return a token of the first."""
    body = json.dumps({"username": "bench0", "password": PASSPHRASE}).encode()
    registration = Request("POST", "/api/users", {"Content-Type": "application/json"}, body)
    run_load(server.port, "registration", [registration], 1, 201)
    engine = create_engine(server.database_url)
    with engine.begin() as connection:
        for number in range(1, USERS):
            connection.execute(
                text(
                    "INSERT INTO users (username, password_hash)"
                    " SELECT :name, password_hash FROM users WHERE username = 'bench0'"
                ),
                {"name": f"bench{number}"},
            )
        if admin:  # as `make admin` would
            connection.execute(text("UPDATE users SET is_admin = true WHERE username = 'bench0'"))
    engine.dispose()
    issuing = [Request("POST", "/api/tokens", basic_auth("bench0", PASSPHRASE))]
    issued = run_load(server.port, "POST /api/tokens", issuing, 1, 200)
    return json.loads(issued.bodies[0])["access_token"]


def start_steps(stack: contextlib.ExitStack, steps, target: str, make_vars: dict, env: dict):
    """Start each step as `make <target>` does, at the real hashing cost, in a folder of its
    own; the stack stops them and removes their folders. Returns {step: its LiveServer}."""
    servers = {}
    for step in steps:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        print(f"Starting step {step} with `make {target}` ...", file=sys.stderr)
        server = LiveServer(
            step, workdir, real_cost=True, target=target, make_vars=make_vars, env=env
        )
        servers[step] = stack.enter_context(server)
    return servers


def benchmark(target: str, make_vars: dict, clients: int, cheap: int) -> dict:
    """Start steps 6 and 7 like step 5 and measure them."""
    workers = int(make_vars.get("WORKERS", 1))
    # A token never reaches the limits. One process counts them in memory, as make run does;
    # several workers would need a store they share, so the limits are off for both steps.
    env = {"FLASK_RATELIMIT_ENABLED": "true" if workers == 1 else "false"}
    with contextlib.ExitStack() as stack:
        servers = start_steps(stack, (6, 7), target, make_vars, env)
        step6_token = admin_token(servers[6], admin=False)
        step7_token = admin_token(servers[7], admin=True)

        def step6_load():
            tokens = [with_token(step6_token)] * cheap
            return run_load(
                servers[6].port, "step 6: GET /api/resource (token)", tokens, clients, 200
            )

        before = step6_load()
        token = run_load(
            servers[7].port,
            "step 7: GET /api/resource (token)",
            [with_token(step7_token)] * cheap,
            clients,
            200,
        )
        after = step6_load()
        listing = run_load(
            servers[7].port,
            "step 7: GET /api/users (admin's token)",
            [with_token(step7_token, "/api/users")] * cheap,
            clients,
            200,
        )
    step6_rate = statistics.mean(result.throughput for result in (before, after))
    return {
        "token_authenticated": token.summary(),
        "list_users": listing.summary(),
        "token_vs_step6_token": token.throughput / step6_rate,
    }


def targets(step7: dict) -> list[dict]:
    """Step 7's target, as a ratio measured in this one run."""
    value = step7["token_vs_step6_token"]
    row = ("step 7 token / step 6 token", value, ">= 0.9", value >= 0.9)
    return [dict(zip(("ratio", "value", "target", "met"), row, strict=True))]


def print_rows(step7: dict) -> None:
    print("\nStep 7, its rules of who may do what:")
    rows = (
        ("GET /api/resource (token)", step7["token_authenticated"]),
        (f"GET /api/users ({USERS}, admin's token)", step7["list_users"]),
    )
    for label, r in rows:
        rate, p50 = r["requests_per_second"], r["p50_ms"]
        print(f"  {label:34}{r['requests']:>6} requests {rate:>9.1f} req/s, p50 {p50:.1f} ms")
    print(f"  step 7's token rate / step 6's, in this run: {step7['token_vs_step6_token']:.2f}")
