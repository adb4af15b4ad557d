"""A small load generator: a bounded list of requests, sent by a few client threads.

Standard library only. Each request opens its own connection, as a new client
would, and every target is on the loopback address: this measures our own server.
"""

import http.client
import math
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile, interpolating between the two nearest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def count_for(seconds: float, rate: float, clients: int, most: int) -> int:
    """How many requests fill about `seconds` at `rate`: a multiple of clients, bounded."""
    rounds = math.ceil(seconds * rate / clients)
    return clients * max(2, min(rounds, most // clients))


@dataclass
class LoadResult:
    label: str
    clients: int
    seconds: float  # wall time from the first request sent to the last answer
    latencies: list[float]  # per request, in the order the requests were given
    statuses: list[int]
    bodies: list[bytes] = field(default_factory=list)  # in the same order

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def latency(self, p: float) -> float:
        return percentile(self.latencies, p)

    def summary(self) -> dict:
        return {
            "requests": self.requests,
            "clients": self.clients,
            "seconds": round(self.seconds, 3),
            "requests_per_second": round(self.throughput, 3),
            "p50_ms": round(self.latency(50) * 1000, 1),
            "p95_ms": round(self.latency(95) * 1000, 1),
            "statuses": dict(Counter(self.statuses)),
        }


def send(port: int, request: Request) -> tuple[int, float, bytes]:
    """Send one request on a new connection; return its status, latency in seconds and body."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=120)
    try:
        start = time.perf_counter()
        connection.request(request.method, request.path, request.body, request.headers)
        response = connection.getresponse()
        body = response.read()
        return response.status, time.perf_counter() - start, body
    finally:
        connection.close()


def run_load(
    port: int,
    label: str,
    requests: list[Request],
    clients: int,
    expected_status: int | tuple[int, ...],
) -> LoadResult:
    """Send every request with `clients` concurrent clients and time them all.

    Raises if any answer has another status than expected (one, or any of several): a
    benchmark of error responses would measure the wrong thing.
    """
    expected = expected_status if isinstance(expected_status, tuple) else (expected_status,)
    latencies = [0.0] * len(requests)
    statuses = [0] * len(requests)
    bodies = [b""] * len(requests)
    with ThreadPoolExecutor(max_workers=clients) as pool:
        start = time.perf_counter()
        futures = {pool.submit(send, port, request): i for i, request in enumerate(requests)}
        for done, future in enumerate(as_completed(futures), start=1):
            i = futures[future]
            statuses[i], latencies[i], bodies[i] = future.result()
            show_progress(label, done, len(requests))
        seconds = time.perf_counter() - start
    unexpected = Counter(status for status in statuses if status not in expected)
    if unexpected:
        raise RuntimeError(f"{label}: expected {expected_status}, got {dict(unexpected)}")
    return LoadResult(label, clients, seconds, latencies, statuses, bodies)


def show_progress(label: str, done: int, total: int) -> None:
    """A counter that rewrites itself on a terminal, or a line per quarter in a log."""
    if sys.stderr.isatty():
        end = "\n" if done == total else ""
        print(f"\r  {label}: {done}/{total}", end=end, file=sys.stderr, flush=True)
    elif done * 4 // total > (done - 1) * 4 // total:
        print(f"  {label}: {done}/{total}", file=sys.stderr, flush=True)
