"""The one way this repository runs a real server in tests and benchmarks.

A `LiveServer` starts a step with the learner's own command (`make run STEP=n`,
or another make target such as `serve`), on a free loopback port, with its own
database, its output captured in a log file, and stops it reliably.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(
        self,
        step: int,
        workdir: Path,
        *,
        database_url: str | None = None,
        real_cost: bool = False,
        target: str = "run",
        make_vars: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
        root: Path = ROOT,
    ):
        self.step = step
        self.root = root  # the repository whose Makefile and steps serve it
        self.workdir = Path(workdir)
        self.database_url = database_url or f"sqlite:///{self.workdir / 'live.sqlite'}"
        self.real_cost = real_cost
        self.target = target
        self.make_vars = make_vars or {}
        self.extra_env = env or {}
        self.log_path = self.workdir / f"server-step{step}.log"
        self.process: subprocess.Popen | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        # FLASK_ variables set settings (step 1's from_prefixed_env): only a test's own count.
        # Step 6's limits are off unless a test turns them on (see the `app` fixture).
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
        env = {**inherited, "DATABASE_URL": self.database_url, "FLASK_RATELIMIT_ENABLED": "false"}
        env.update(self.extra_env)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(self.root)] + [p for p in [env.get("PYTHONPATH")] if p]
        )
        if sys.prefix != sys.base_prefix:  # make uses the virtualenv running the tests
            env["VIRTUAL_ENV"] = sys.prefix
        env.pop("MAKEFLAGS", None)
        env.pop("MAKELEVEL", None)
        return env

    def start(self, timeout: float = 60) -> "LiveServer":
        self.port = free_port()
        variables = {"STEP": str(self.step), "HOST": "127.0.0.1", "PORT": str(self.port)}
        if not self.real_cost:  # the step's app, with PassLib's cheap test context
            variables["APP_WRAPPER"] = "tests.hashing:cheap_app"
        command = ["make", "--no-print-directory", "-C", str(self.root), self.target]
        command += [f"{k}={v}" for k, v in {**variables, **self.make_vars}.items()]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so stop() reaches all of it
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{self.log_text()}")
            try:
                requests.get(f"{self.url}/api/users/1", timeout=2)
                return self
            # gunicorn listens before its workers have loaded the app, so a
            # starting server may take a connection and answer only later.
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not answer within {timeout} s:\n{self.log_text()}")

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        """End the server at once, as a crash would (SIGKILL: no clean-up runs)."""
        if self.process is not None:
            self._signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> "LiveServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


class RedisServer:
    """The throwaway Redis that `make test-redis` starts (tests/redis.sh), which a test may
    stop and start again: its configuration file (TEST_REDIS_CONF) says how."""

    def __init__(self, url: str | None = None, conf: str | None = None):
        self.url = url or os.environ["TEST_REDIS_URL"]
        self.conf = conf or os.environ.get("TEST_REDIS_CONF")

    def client(self):
        import redis  # only the tests that use Redis need the client

        return redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5)

    def wait(self, timeout: float = 30) -> None:
        """Return once the server answers PING."""
        import redis

        deadline = time.monotonic() + timeout
        while True:
            try:
                self.client().ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        self.client().shutdown(nosave=True)

    def start(self) -> None:
        subprocess.run(["redis-server", self.conf], check=True, stdout=subprocess.DEVNULL)
        self.wait()

    def signal(self, sig: int) -> None:
        """SIGSTOP pauses the server: it still takes connections, and answers nothing, as a
        stalled host or a network partition would. SIGCONT resumes it."""
        pidfile = next(
            line.split()[1]
            for line in Path(self.conf).read_text().splitlines()
            if line.startswith("pidfile ")
        )
        os.kill(int(Path(pidfile).read_text()), sig)
