"""`make bench`, step 6: what the limits on failed logins cost, and whether they hold.

Step 6 starts while step 5's server still runs, the same way (the development server, or
gunicorn with the same workers), with its limits on: counted in the process's memory, or,
for several workers, in a throwaway Redis that this starts on a free port. In one run:
token requests on step 6 between two runs of the same load on step 5, and the public
lookup; how long a limited answer (a 429, no hash) takes; and how many of a burst of wrong
passwords for one name are verified (401) before the limit answers. On the development
server (gunicorn refuses header fields this long itself), what a name of 8,000 characters
costs: a 429 for it against a 429 for a short name, and, on a server whose limits are raised
so that every failure counts, how much memory 200 failures with such names keep.
"""

import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import machine
from bench.load import Request, run_load
from tests.helpers import PASSPHRASE, basic_auth
from tests.live import LiveServer, RedisServer, free_port

WRONG_PASSWORD = "not-the-right-passphrase"
LIMIT = 10  # failed logins per username in 10 minutes: step 6's default
LIMITED_REQUESTS = 200
LONG_NAME = 8000  # characters
COUNTED_LONG_NAMES = 200
RAISED = "1000000 per day"  # limits that a measurement of counted failures never reaches


@contextlib.contextmanager
def throwaway_redis():
    """Yield the URL of a Redis on a free loopback port that keeps nothing on disk."""
    port = free_port()
    command = ["redis-server", "--bind", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
    )
    try:
        url = f"redis://127.0.0.1:{port}"
        RedisServer(url).wait()
        yield url
    finally:
        process.terminate()
        process.wait()


def with_token(token: str) -> Request:
    return Request("GET", "/api/resource", {"Authorization": f"Bearer {token}"})


def guess(username: str) -> Request:
    return Request("GET", "/api/resource", basic_auth(username, WRONG_PASSWORD))


def load_server(step5: LiveServer, step5_token: str, step6: LiveServer, clients: int, cheap: int):
    """Run step 6's loads; return the raw results."""
    port, processes = step6.port, step6.processes
    for number in range(processes):  # one per worker, so that every worker has booted
        body = json.dumps({"username": f"bench{number}", "password": PASSPHRASE}).encode()
        registration = Request("POST", "/api/users", {"Content-Type": "application/json"}, body)
        run_load(port, "warm-up (registration)", [registration], 1, 201)
    issuing = [Request("POST", "/api/tokens", basic_auth("bench0", PASSPHRASE))]
    token = json.loads(run_load(port, "POST /api/tokens", issuing, 1, 200).bodies[0])
    tokens = [with_token(token["access_token"])] * cheap
    # Step 6's tokens between two runs of step 5's, so that all three meet one machine.
    before = run_load(
        step5.port,
        "step 5: GET /api/resource (token)",
        [with_token(step5_token)] * cheap,
        clients,
        200,
    )
    token_load = run_load(port, "step 6: GET /api/resource (token)", tokens, clients, 200)
    after = run_load(
        step5.port,
        "step 5: GET /api/resource (token)",
        [with_token(step5_token)] * cheap,
        clients,
        200,
    )
    lookups = [Request("GET", f"/api/users/{1 + n % processes}") for n in range(cheap)]
    lookup = run_load(port, "step 6: GET /api/users/<id>", lookups, clients, 200)
    burst = run_load(
        port, "step 6: wrong passwords at once", [guess("crowd")] * 3 * LIMIT, clients, (401, 429)
    )
    limited = run_load(
        port, "step 6: a limited name (429)", [guess("crowd")] * LIMITED_REQUESTS, 1, 429
    )
    return token_load, (before, after), lookup, burst, limited


def long_name(number: int) -> str:
    """A name of LONG_NAME characters, another for each number."""
    return f"{number}-".ljust(LONG_NAME, "x")


def long_names(step6: LiveServer, workdir: Path) -> dict:
    """On the development server: a 429 for a long name against one for a short name, then
    the memory that counted failures with long names keep, on a server with raised limits."""
    port, first = step6.port, LIMIT + 1
    run_load(port, "step 6: long names (401)", [guess(long_name(n)) for n in range(LIMIT)], 1, 401)
    requests = [guess(long_name(first + n)) for n in range(LIMITED_REQUESTS)]
    limited = run_load(port, "step 6: a limited long name (429)", requests, 1, 429)
    env = {
        "FLASK_RATELIMIT_ENABLED": "true",
        "FLASK_FAILED_LOGINS_PER_USERNAME": RAISED,
        "FLASK_FAILED_LOGINS_PER_ADDRESS": RAISED,
    }
    with LiveServer(6, workdir, real_cost=True, env=env) as raised:
        warm_up = [guess(long_name(n)) for n in range(COUNTED_LONG_NAMES)]
        run_load(raised.port, "step 6: long names, warm-up (401)", warm_up, 1, 401)
        before = machine.tree_memory_bytes(raised.process.pid)
        counted = [guess(long_name(COUNTED_LONG_NAMES + n)) for n in range(COUNTED_LONG_NAMES)]
        run_load(raised.port, "step 6: long names, counted (401)", counted, 1, 401)
        after = machine.tree_memory_bytes(raised.process.pid)
    grown = None if before is None else (after - before) / 2**20
    return {"limited": limited.summary(), "counted": COUNTED_LONG_NAMES, "memory_mib": grown}


def benchmark(
    step5: LiveServer,
    step5_token: str,
    target: str,
    make_vars: dict,
    clients: int,
    cheap: int,
    refused_seconds: float,
) -> dict | None:
    """Start step 6 like step 5 and measure it; None when it needs Redis and there is none."""
    workers = int(make_vars.get("WORKERS", 1))
    env = {"FLASK_RATELIMIT_ENABLED": "true"}
    with contextlib.ExitStack() as stack:
        if workers > 1:
            if not shutil.which("redis-server"):
                print(
                    "Step 6 with several workers needs redis-server: not measured.",
                    file=sys.stderr,
                )
                return None
            env["FLASK_RATELIMIT_STORAGE_URI"] = stack.enter_context(throwaway_redis())
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        print(f"Starting step 6 with `make {target}` ...", file=sys.stderr)
        server = LiveServer(
            6, workdir, real_cost=True, target=target, make_vars=make_vars, env=env
        )
        stack.enter_context(server)
        server.processes = workers
        token, step5_tokens, lookup, burst, limited = load_server(
            step5, step5_token, server, clients, cheap
        )
        if target == "run":
            names = long_names(server, Path(stack.enter_context(tempfile.TemporaryDirectory())))
    step5_rate = statistics.mean(result.throughput for result in step5_tokens)
    limited_seconds = statistics.median(limited.latencies)
    found = {"long_names": names} if target == "run" else {}
    if found:
        names["limited_ms"] = names["limited"]["p50_ms"]
        names["short_limited_ms"] = limited_seconds * 1000
        names["refused_vs_limited"] = refused_seconds / (names["limited_ms"] / 1000)
    return found | {
        "store": "redis" if workers > 1 else "memory",
        "token_authenticated": token.summary(),
        "user_lookup": lookup.summary(),
        "limited": limited.summary(),
        "token_vs_user_lookup": token.throughput / lookup.throughput,
        "token_vs_step5_token": token.throughput / step5_rate,
        "refused_vs_limited": refused_seconds / limited_seconds,
        "burst": {
            "sent": burst.requests,
            "clients": burst.clients,
            "let_through": burst.statuses.count(401),
            "limit": LIMIT,
        },
    }


def targets(step6: dict, workers: int) -> list[dict]:
    """Step 6's targets, as ratios and a count measured in this one run."""
    burst, most = step6["burst"]["let_through"], LIMIT + workers - 1
    found = [
        ("step 6 token / public lookup", step6["token_vs_user_lookup"], ">= 0.5", 0.5),
        ("step 6 token / step 5 token", step6["token_vs_step5_token"], ">= 0.9", 0.9),
        ("refused password (401) / limit (429)", step6["refused_vs_limited"], ">= 100", 100),
    ]
    rows = [(name, value, target, value >= least) for name, value, target, least in found]
    if names := step6.get("long_names"):
        longest = 2 * names["short_limited_ms"] + 2  # twice a short name's, plus 2 ms
        value = names["limited_ms"]
        target = f"<= {longest:.1f}"
        rows.append((f"429, {LONG_NAME:,}-char name (ms)", value, target, value <= longest))
        value = names["refused_vs_limited"]
        rows.append(("refused password / 429, long name", value, ">= 100", value >= 100))
        if (grown := names["memory_mib"]) is not None:
            what = f"MiB grown by {COUNTED_LONG_NAMES} long names"
            rows.append((what, grown, "< 1.5", grown < 1.5))
    rows.append(
        ("let through before the 429s", burst, f"{LIMIT} to {most}", LIMIT <= burst <= most)
    )
    return [dict(zip(("ratio", "value", "target", "met"), row, strict=True)) for row in rows]


def print_rows(step6: dict) -> None:
    burst = step6["burst"]
    print(f"\nStep 6, its limits counted in {step6['store']}:")
    rows = (
        ("GET /api/resource (token)", step6["token_authenticated"]),
        ("GET /api/users/<id> (no auth)", step6["user_lookup"]),
        ("GET /api/resource, limited (429)", step6["limited"]),
    )
    for label, r in rows:
        rate, p50 = r["requests_per_second"], r["p50_ms"]
        print(f"  {label:34}{r['requests']:>6} requests {rate:>9.1f} req/s, p50 {p50:.1f} ms")
    print(
        f"  {burst['sent']} wrong passwords for one name, {burst['clients']} clients at once:"
        f" {burst['let_through']} verified (401), the rest 429 (the limit is {LIMIT})"
    )
    if names := step6.get("long_names"):
        grown = names["memory_mib"]
        print(
            f"  a 429 for a name of {LONG_NAME:,} characters: p50 {names['limited_ms']:.1f} ms"
            f" (a short name: {names['short_limited_ms']:.1f} ms); {names['counted']} counted"
            f" failures with such names grew the server by "
            + ("(not measured)" if grown is None else f"{grown:.2f} MiB")
        )
