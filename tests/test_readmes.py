"""The READMEs' sessions, run verbatim against a live server of their step.

A block right after an `<!-- checked -->` comment is a transcript (`<!-- checked
FLASK_TOKEN_LIFETIME=2 -->` runs it on a server of its own started with that variable):
in a `console` block, lines starting with `$ ` are shell commands (continued by a trailing `\\`)
and the lines after each command are what it prints; in a `pycon` block, the `>>> `
lines are typed into `make shell` and the other lines are what Python answers.
The commands of a block run in one shell, as in a terminal (so `TOKEN=$(...)` holds for
the commands after it), against a fresh server of the README's step on a free port, and
what they print must match the README, except what changes from run to run: the Date and
Server headers, the tokens of step 5 (random by design), the order of the methods in
an Allow header, which Werkzeug takes from a set, and the seconds of step 6's Retry-After.
The servers run with step 6's limits on, as `make run` starts them.
"""

import os
import re
import shlex
import subprocess

import pytest

from steps import STEPS
from tests.live import ROOT

DOCUMENTED_URL = "http://127.0.0.1:5000"
BLOCK = re.compile(
    r"<!-- checked((?: [A-Z_]+=\S+)*) -->\s*```(console|pycon)\n(.*?)```", re.DOTALL
)
VOLATILE = re.compile(r"^(Date|Server): .*\n", re.MULTILINE)
TOKEN = re.compile(r"fra_[A-Za-z0-9_-]{43}")
MARKER = "@@@ the command above ended with status"
ALLOW = re.compile(r"^Allow: (.*)$", re.MULTILINE)
SECONDS = re.compile(r"(Retry-After: |Try again in )\d+")

READMES = [("README.md", len(STEPS))] + [
    (f"{name}/README.md", n) for n, name in enumerate(STEPS, 1)
]


def transcript_steps(kind, text):
    """Split a transcript into (input, expected output) pairs."""
    prompt = "$ " if kind == "console" else ">>> "
    pairs = []
    lines = iter(text.splitlines())
    for line in lines:
        if line.startswith(prompt):
            command = line[len(prompt) :]
            while kind == "console" and command.endswith("\\"):
                command += "\n" + next(lines)
            pairs.append((command, []))
        elif pairs:
            pairs[-1][1].append(line)
    return [(command, "\n".join(output)) for command, output in pairs]


def normalize(text, url):
    text = text.replace("\r\n", "\n").replace(url, DOCUMENTED_URL)
    text = ALLOW.sub(lambda m: "Allow: " + ", ".join(sorted(m[1].split(", "))), text)
    text = TOKEN.sub("fra_<a token>", text)
    text = SECONDS.sub(r"\1<seconds>", text)
    return VOLATILE.sub("", text + "\n").strip()


def run_console(pairs, server):
    script = "".join(f"{command}\nprintf '\\n{MARKER} %s\\n' $?\n" for command, _ in pairs)
    # The server's database, for a command such as `make admin` that opens it too.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "STEP")}
    result = subprocess.run(
        ["bash", "-c", script.replace(DOCUMENTED_URL, server.url)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "DATABASE_URL": server.database_url},
    )
    outputs = re.split(rf"^{MARKER} (\d+)$", result.stdout, flags=re.MULTILINE)
    assert len(outputs) == 2 * len(pairs) + 1, result.stdout + result.stderr
    for (command, expected), printed, status in zip(
        pairs, outputs[0:-1:2], outputs[1::2], strict=True
    ):
        assert status == "0", f"{command}\n{result.stderr}"
        assert normalize(printed, server.url) == normalize(expected, server.url), command


def run_pycon(pairs, server, step):
    source = "\n".join(command for command, _ in pairs) + "\n"
    result = subprocess.run(
        ["make", "--no-print-directory", "shell", f"STEP={step}"],
        cwd=ROOT,
        input=source,
        capture_output=True,
        text=True,
        timeout=60,
        env=server.environment(),
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    answers = [line for _, expected in pairs for line in expected.splitlines()]
    printed = result.stdout.replace(">>> ", "\n").splitlines()
    position = 0
    for answer in answers:  # every answer appears, in order
        while position < len(printed) and printed[position].strip() != answer.strip():
            position += 1
        assert position < len(printed), f"{answer!r} not printed:\n{result.stdout}"


# A session that stores alice gives her the id 1 and answers 201 only on a fresh database.
CREATES_ALICE = re.compile(r'"username": "alice"|User\(username="alice"')


@pytest.mark.parametrize("readme", [readme for readme, _ in READMES])
def test_a_session_that_creates_alice_says_it_needs_a_fresh_database(readme):
    text = (ROOT / readme).read_text()
    first = next((b for b in BLOCK.finditer(text) if CREATES_ALICE.search(b[3])), None)
    assert first, f"{readme} has no checked session that creates alice"
    paragraph = text[: first.start()].rstrip().split("\n\n")[-1]  # the one that leads to it
    assert "fresh database" in paragraph, paragraph
    assert "`make clean`" in paragraph, paragraph


@pytest.mark.live
@pytest.mark.parametrize(
    "readme, step",
    [pytest.param(r, n, id=r, marks=getattr(pytest.mark, f"step{n}")) for r, n in READMES],
)
def test_readme_sessions_work_verbatim(readme, step, live_server):
    blocks = BLOCK.findall((ROOT / readme).read_text())
    assert blocks, f"{readme} has no checked session"
    # Step 2's session prints a hash made at PassLib's real cost; the others print no hash.
    limits_on = {"FLASK_RATELIMIT_ENABLED": "true"}
    server = live_server(step, real_cost=readme == "step2_hashing/README.md", env=limits_on)
    for variables, kind, text in blocks:
        pairs = transcript_steps(kind, text)
        if variables:  # a server of its own, started as the README says
            env = limits_on | dict(v.split("=", 1) for v in variables.split())
            server = live_server(step, env=env)
        if kind == "console":
            run_console(pairs, server)
        else:
            run_pycon(pairs, server, step)


def test_the_readmes_gunicorn_command_is_the_one_make_serve_runs():
    """The README shows `make serve` without make: the same program with the same options."""
    readme = (ROOT / "README.md").read_text()
    shown = re.search(r"^\.venv/bin/gunicorn .*?'\n", readme, re.MULTILINE | re.DOTALL)
    assert shown, "README.md has no gunicorn command"
    store = "FLASK_RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379"  # step 6's, for two workers
    assert f"\nexport {store} " in readme
    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", "serve", "STEP=6", "WORKERS=2", store],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    run = dry_run[dry_run.index("exec ") + len("exec ") :]

    def words(command):
        return shlex.split(command.replace("\\\n", " "))

    program, *options = words(run)  # the program's path is the environment's own
    assert program.endswith("/bin/gunicorn")
    assert options == words(shown.group(0))[1:]


def test_the_layout_names_every_module_each_step_adds():
    layout = (ROOT / "README.md").read_text().split("\n## Layout\n")[1].split("\n## ")[0]
    rows = {int(m[1]): m[2] for m in re.finditer(r"^\| (\d+) \| (.*) \|$", layout, re.MULTILINE)}
    before: set[str] = set()
    for number, name in enumerate(STEPS, start=1):
        modules = {path.name for path in (ROOT / name).glob("*.py")}
        for module in sorted(modules - before):
            assert f"`{module}`" in rows.get(number, ""), f"Layout: step {number} adds {module}"
        before = modules
