"""`make bench`, step 8: what argon2id costs against step 7's sha512_crypt, in time and memory.

Steps 7 and 8 start side by side, the same way (the development server, or gunicorn with the
same workers), at the real hashing cost. In one run: HTTP Basic requests on both (a password
check each), the memory that a burst of checks at once takes on step 8, a refused password
against a limited one (429) on step 8, and token requests on step 8 between two runs of the
same load on step 7.
"""

import contextlib
import json
import statistics

from sqlalchemy import create_engine, text

from bench import machine
from bench.authorization import start_steps
from bench.load import Request, run_load
from step8_passwords.models import pwd_context  # argon2id, at the real cost
from tests.helpers import PASSPHRASE, basic_auth
from tests.live import LiveServer

WRONG_PASSWORD = "not-the-right-passphrase"
LIMIT = 10  # failed logins per username in 10 minutes: step 6's default
BASIC_SECONDS = 6  # of HTTP Basic load on each step
BURST = 8  # password checks at once, for the memory they take
LIMITED_REQUESTS = 100
MIB = 1024 * 1024


def register(server: LiveServer, username: str) -> None:
    body = json.dumps({"username": username, "password": PASSPHRASE}).encode()
    registration = Request("POST", "/api/users", {"Content-Type": "application/json"}, body)
    run_load(server.port, "registration", [registration], 1, 201)


def token_of(server: LiveServer, username: str) -> str:
    issuing = [Request("POST", "/api/tokens", basic_auth(username, PASSPHRASE))]
    return json.loads(run_load(server.port, "POST /api/tokens", issuing, 1, 200).bodies[0])[
        "access_token"
    ]


def basic(username: str, password: str = PASSPHRASE) -> Request:
    return Request("GET", "/api/resource", basic_auth(username, password))


def with_token(token: str) -> Request:
    return Request("GET", "/api/resource", {"Authorization": f"Bearer {token}"})


def tree_memory(root: int, field: str) -> int | None:
    """Bytes of a /proc status field (VmRSS now, VmHWM its peak) over a process and its
    descendants: the server's processes under make."""
    if not machine.PROC.is_dir():
        return None
    parents = {}
    for entry in machine.PROC.iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
    tree = {root}
    while grown := {pid for pid, parent in parents.items() if parent in tree} - tree:
        tree |= grown
    total = 0
    for pid in tree:
        with contextlib.suppress(OSError):
            for line in (machine.PROC / str(pid) / "status").read_text().splitlines():
                if line.startswith(f"{field}:"):
                    total += int(line.split()[1]) * 1024  # kB
    return total


def burst_memory(server: LiveServer) -> tuple[int | None, int | None]:
    """BURST password checks at once on a server that has checked none yet: its resident
    size before, and its peak. One name each (step 6 checks one name's guesses one after
    the other), stored straight into the database, so that no registration hashes first:
    the C library keeps the memory of a freed hash for the next one, which would hide it."""
    names = [f"burst{number}" for number in range(BURST)]
    password_hash = pwd_context.hash(PASSPHRASE)
    engine = create_engine(server.database_url)
    with engine.begin() as connection:
        for name in names:
            connection.execute(
                text("INSERT INTO users (username, password_hash) VALUES (:name, :hash)"),
                {"name": name, "hash": password_hash},
            )
    engine.dispose()
    before = tree_memory(server.process.pid, "VmRSS")
    burst = [basic(name) for name in names]
    run_load(server.port, "step 8: a burst of checks", burst, BURST, 200)
    return before, tree_memory(server.process.pid, "VmHWM")


def benchmark(target: str, make_vars: dict, clients: int, cheap: int) -> dict:
    """Start steps 7 and 8 like step 5 and measure them."""
    workers = int(make_vars.get("WORKERS", 1))
    # One process counts failed logins in memory, as make run does; several workers would
    # need a store they share, so then the limits are off and the 429 is not measured.
    env = {"FLASK_RATELIMIT_ENABLED": "true" if workers == 1 else "false"}
    with contextlib.ExitStack() as stack:
        servers = start_steps(stack, (7, 8), target, make_vars, env)
        before, peak = burst_memory(servers[8])  # first, while no request has hashed yet
        for server in servers.values():
            register(server, "bench")
        tokens = {step: token_of(server, "bench") for step, server in servers.items()}

        def basic_load(step: int, count: int):
            requests = [basic("bench")] * count
            return run_load(
                servers[step].port,
                f"step {step}: GET /api/resource (Basic)",
                requests,
                clients,
                200,
            )

        step7_basic = basic_load(7, clients * 2)
        rate = step7_basic.throughput
        step8_basic = basic_load(8, max(clients * 2, int(BASIC_SECONDS * rate * 20)))

        def step7_tokens():
            requests = [with_token(tokens[7])] * cheap
            return run_load(
                servers[7].port, "step 7: GET /api/resource (token)", requests, clients, 200
            )

        token_before = step7_tokens()
        token = run_load(
            servers[8].port,
            "step 8: GET /api/resource (token)",
            [with_token(tokens[8])] * cheap,
            clients,
            200,
        )
        token_after = step7_tokens()

        limited = None
        if workers == 1:
            register(servers[8], "crowd")
            refused = run_load(
                servers[8].port,
                "step 8: wrong passwords",
                [basic("crowd", WRONG_PASSWORD)] * LIMIT,
                1,
                401,
            )
            limited = run_load(
                servers[8].port,
                "step 8: a limited name (429)",
                [basic("crowd", WRONG_PASSWORD)] * LIMITED_REQUESTS,
                1,
                429,
            )
    step7_rate = statistics.mean(result.throughput for result in (token_before, token_after))
    report = {
        "step7_basic": step7_basic.summary(),
        "step8_basic": step8_basic.summary(),
        "basic_vs_step7": step8_basic.throughput / step7_basic.throughput,
        "token_authenticated": token.summary(),
        "token_vs_step7_token": token.throughput / step7_rate,
        "burst": {"checks": BURST, "rss_before": before, "peak": peak},
    }
    if limited is not None:
        report["limited"] = limited.summary()
        report["refused_vs_limited"] = statistics.median(refused.latencies) / statistics.median(
            limited.latencies
        )
    return report


def targets(step8: dict) -> list[dict]:
    """Step 8's targets, as ratios measured in this one run."""
    rows = [
        ("step 8 Basic / step 7 Basic", step8["basic_vs_step7"], ">= 1", 1),
        ("step 8 token / step 7 token", step8["token_vs_step7_token"], ">= 0.9", 0.9),
    ]
    if "refused_vs_limited" in step8:
        rows.append(
            ("step 8 refused (401) / limit (429)", step8["refused_vs_limited"], ">= 10", 10)
        )
    found = [(name, value, target, value >= least) for name, value, target, least in rows]
    return [dict(zip(("ratio", "value", "target", "met"), row, strict=True)) for row in found]


def print_rows(step8: dict) -> None:
    print("\nStep 8, argon2id (19 MiB, 2 passes, 1 lane) against step 7's sha512_crypt:")
    rows = [
        ("step 7: GET /api/resource (Basic)", step8["step7_basic"]),
        ("step 8: GET /api/resource (Basic)", step8["step8_basic"]),
        ("step 8: GET /api/resource (token)", step8["token_authenticated"]),
    ]
    if "limited" in step8:
        rows.append(("step 8: a limited name (429)", step8["limited"]))
    for label, r in rows:
        rate, p50 = r["requests_per_second"], r["p50_ms"]
        print(f"  {label:34}{r['requests']:>6} requests {rate:>9.1f} req/s, p50 {p50:.1f} ms")
    burst = step8["burst"]
    if burst["peak"] is not None and burst["rss_before"] is not None:
        extra = max(0, burst["peak"] - burst["rss_before"]) / MIB
        print(
            f"  {burst['checks']} password checks at once: the server's memory peaked"
            f" {extra:.0f} MiB above its resident size before them,"
            f" {extra / burst['checks']:.1f} MiB a check"
        )
