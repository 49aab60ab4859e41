"""A newcomer's first minutes: the README's Quick start, run as written in a fresh clone.

The commands are read from README.md's Quick start code blocks, so this fails when the README
drifts from what works. The clone is a `git clone` of this checkout (what is committed), with
the installed .venv and .tools linked in so nothing is reinstalled, and the commands run as
from a new terminal: a fresh HOME, no pip configuration, no activated venv, no project settings.
"""

from __future__ import annotations

import html
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.processes import ROOT, Stack, free_port, pid_alive, wait_for
from tests.support.services import unavailable

pytestmark = pytest.mark.processes

PASSWORD = "quiet-harbour-7431"  # passes the password rule; typed twice at create-admin's prompt
SETTINGS = (
    "BLASTO_",
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "RATELIMIT_",
    "PORT",
    "PROCFILE",
    "FLASK_",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "PIP_",
    "PIPENV_",
)


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def shell_lines(section: str) -> list[str]:
    """The lines of the section's ```sh blocks, as a reader would paste them."""
    blocks = re.findall(r"^```sh\n(.*?)^```", section, re.S | re.M)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def words(line: str) -> list[str]:
    return shlex.split(line, comments=True)


def fresh_clone(destination: Path) -> Path:
    """`git clone` of this checkout, with its installed environments linked in (no reinstall)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        unavailable("a fresh clone needs git and this checkout's .git")
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(destination)], check=True, timeout=120)
    for name in (".venv", ".tools"):
        if not (ROOT / name / "bin").is_dir():
            unavailable(f"no installed {name} to reuse: run `python3 dev.py test` once")
        (destination / name).symlink_to((ROOT / name).resolve())
    return destination


def newcomer_env(home: Path) -> dict:
    """A new terminal's environment: no venv on PATH, no project settings, a fresh HOME."""
    installed = [ROOT / ".venv" / "bin", ROOT / ".tools" / "bin", Path(sys.executable).parent]
    venv_bins = {str(path) for path in installed} | {str(path.resolve()) for path in installed}
    env = {name: value for name, value in os.environ.items() if not name.startswith(SETTINGS)}
    env["PATH"] = os.pathsep.join(part for part in env.get("PATH", "").split(os.pathsep) if part not in venv_bins)
    home.mkdir()
    env.update(HOME=str(home), PIP_CONFIG_FILE=os.devnull)
    if shutil.which("python3", path=env["PATH"]) is None:
        unavailable("no python3 on PATH outside the venv")
    return env


class Launched(Stack):
    """A running stack started by a command line of its own (dev.py start, heroku local)."""

    def __init__(self, argv: list[str], env: dict, cwd: Path, log_path: Path, port: int):
        self.port = port
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_up(self, timeout: float = 90.0) -> None:
        def up() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"exited early ({self.proc.returncode}):\n{self.output()[-4000:]}")
            try:
                return self.get("/healthz")[0] == 200
            except OSError:
                return False

        wait_for(up, timeout, interval=0.2, what=f"the shop on port {self.port}")


@pytest.fixture
def launched():
    stacks: list[Launched] = []

    def launch(*args) -> Launched:
        stacks.append(Launched(*args))
        return stacks[-1]

    yield launch
    for stack in stacks:
        stack.kill()


def in_second_terminal(line: str, clone: Path, env: dict) -> subprocess.CompletedProcess:
    """Run a README line through a shell, with no terminal: create-admin then reads its password from stdin."""
    typed = f"{PASSWORD}\n{PASSWORD}\n"
    return subprocess.run(
        ["sh", "-c", line],
        cwd=clone,
        env=env,
        input=typed,
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,
    )


def assert_shop_is_stocked(base: str) -> None:
    from blasto.shop.sample_books import BOOKS

    page = requests.get(f"{base}/", timeout=15)
    assert page.status_code == 200
    titles = [title for title, *_ in BOOKS if html.escape(title) in page.text]
    assert titles and "No books yet" not in page.text, "the front page shows sample books"


def log_in(base: str, email: str) -> requests.Session:
    session = requests.Session()
    form = session.get(f"{base}/login", timeout=15)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form.text)
    assert token, form.text[:2000]
    fields = {"email": email, "password": PASSWORD, "csrf_token": token[1]}
    answer = session.post(f"{base}/login", data=fields, timeout=30)
    assert answer.status_code == 200 and "Welcome back" in answer.text, answer.text[:2000]
    return session


def stop(stack: Launched) -> None:
    pids = stack.child_pids()
    code = stack.stop(timeout=30)
    assert code in (0, 130, 143, -15), f"exit code {code}:\n{stack.output()[-3000:]}"
    wait_for(lambda: not any(pid_alive(pid) for pid in pids), 20, what="every process to exit")
    assert "Traceback" not in stack.output(), stack.output()[-3000:]


@pytest.mark.needs_git  # a git clone of this checkout
def test_the_quick_start_works_as_written_in_a_fresh_clone(tmp_path, launched):
    lines = shell_lines(readme_section("Quick start"))
    starts = [line for line in lines if words(line)[:3] == ["python3", "dev.py", "start"]]
    assert len(starts) == 1, f"one line starts the shop: {lines}"
    tests = [line for line in lines if words(line)[:3] == ["python3", "dev.py", "test"]]  # this very suite
    second_terminal = [line for line in lines if line not in starts + tests]
    admin = next(filter(None, (re.search(r"create-admin (\S+@\S+)", line) for line in second_terminal)), None)
    sales = next(filter(None, (re.search(r"--sales (\d+)", line) for line in second_terminal)), None)
    assert admin and sales, f"the Quick start makes an admin and seeds sales: {second_terminal}"

    clone = fresh_clone(tmp_path / "clone")
    env = newcomer_env(tmp_path / "home")
    port = free_port(count=2)
    stack = launched([*words(starts[0]), "-p", str(port)], env, clone, tmp_path / "start.log", port)
    stack.wait_up()
    stack.wait_for_output(rf"dev\.py: the shop is up at http://localhost:{port}/\n", timeout=60)
    assert "the catalogue is empty: loading the sample books" in stack.output()
    assert_shop_is_stocked(f"http://localhost:{port}")

    for line in second_terminal:
        result = in_second_terminal(line, clone, env)
        assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"

    session = log_in(stack.base, admin[1])
    purchases = session.get(f"{stack.base}/admin/purchases", timeout=30)
    assert purchases.status_code == 200 and f"{int(sales[1]):,} purchases" in purchases.text, purchases.text[:3000]
    stop(stack)


@pytest.mark.needs_git  # a git clone of this checkout
def test_start_says_so_when_the_port_is_taken(tmp_path):
    import socket

    clone = fresh_clone(tmp_path / "clone")
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as taken:
        taken.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        taken.bind(("::", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = ["python3", "dev.py", "start", "-p", str(port)]
        env = newcomer_env(tmp_path / "home")
        result = subprocess.run(command, cwd=clone, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and f"port {port} is in use" in result.stdout, result.stdout + result.stderr
    assert "started" not in result.stdout, "nothing was started"


@pytest.mark.parametrize(
    ("procfile", "dotenv", "environ", "args"),
    [
        ("web worker clock", "", {}, []),
        ("web worker clock", "", {}, ["-p", "6100"]),
        ("web worker clock", "", {"PORT": "7100"}, []),
        ("web worker clock", "", {"PORT": "7100"}, ["--port", "6100"]),
        ("web worker clock", "PORT=8100  # a comment\n", {"PORT": "7100"}, ["-p", "6100"]),
        ("web worker clock", "", {}, ["clock", "web"]),
        ("worker web", "", {}, ["-p", "6100"]),
        ("worker clock", "", {}, []),
        ("web worker", "PROCFILE=Other\n", {}, []),
        ("web worker", "", {"PROCFILE": "Other"}, ["-f", "Procfile"]),
    ],
)
def test_the_printed_port_is_the_one_honcho_gives_web(procfile, dotenv, environ, args, tmp_path, monkeypatch):
    """dev.py's reading of honcho's rules (.env's PORT over -p over the environment's; +100 per
    process type before web; -f, then PROCFILE) against honcho itself."""
    import dev

    names = procfile.split()
    # honcho stops every process once one exits: each waits (10 s at most) for web to have said its
    # port, or on a busy machine web could be stopped before it printed (seen once on CI).
    line = "{0}: echo {0}=$PORT; touch {0}.said; for i in $(seq 200); do [ -e web.said ] && exit 0; sleep 0.05; done\n"
    (tmp_path / "Procfile").write_text("".join(line.format(name) for name in names))
    (tmp_path / "Other").write_text("".join(line.format(name) for name in reversed(names)))
    (tmp_path / ".env").write_text(dotenv)
    env = {name: value for name, value in os.environ.items() if name not in ("PORT", "PROCFILE")} | environ
    honcho = str(Path(sys.executable).parent / "honcho")
    result = subprocess.run([honcho, "start", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    served = re.search(r"\| web=(\d+)", result.stdout)

    monkeypatch.chdir(tmp_path)
    _, port = dev.honcho_plan(args, env)
    assert port == (int(served[1]) if served else None), result.stdout


def heroku_cli() -> str:
    """The Heroku CLI on PATH (.ci/run installs it); not installed on demand: it is about 400 MB from npm."""
    found = shutil.which("heroku")
    if found is None:
        unavailable("no Heroku CLI on PATH (npm install --global heroku) to run the README's `heroku local` lines")
    return found


def heroku_lines(title: str) -> dict[str, list[str]]:
    """The section's `heroku local` and `heroku local:run` lines, by subcommand."""
    found: dict[str, list[str]] = {"local": [], "local:run": []}
    for line in shell_lines(readme_section(title)):
        if words(line)[:1] == ["heroku"] and words(line)[1] in found:
            found[words(line)[1]].append(line)
    return found


def activated(env: dict, clone: Path) -> dict:
    """`source .venv/bin/activate`; and the Heroku CLI neither updates itself nor reports usage from a test."""
    path = f"{clone / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"
    quiet = {"HEROKU_DISABLE_AUTOUPDATE": "1", "DISABLE_TELEMETRY": "true"}
    return env | {"PATH": path, "VIRTUAL_ENV": str(clone / ".venv")} | quiet


def interrupt(stack: Launched) -> None:
    """Ctrl+C in the terminal: SIGINT to the whole foreground group, which node-foreman and its processes share."""
    os.killpg(stack.proc.pid, signal.SIGINT)
    wait_for(lambda: stack.proc.poll() is not None, 30, what="heroku local to stop")
    wait_for(
        lambda: not subprocess.run(["pgrep", "-g", str(stack.proc.pid)], capture_output=True).stdout,
        30,
        what="every process heroku local started to exit",
    )


def heroku_local_setup(tmp_path: Path, section: str) -> tuple[str, dict[str, list[str]], Path, dict]:
    """The Heroku CLI, the section's heroku lines, a fresh clone with the .env `dev.py start` writes, its shell's env."""
    import dev

    heroku = heroku_cli()
    lines = heroku_lines(section)
    assert len(lines["local"]) == 1 and lines["local:run"], lines
    clone = fresh_clone(tmp_path / "clone")
    dev.write_dotenv(clone)  # what `python3 dev.py start` did first
    return heroku, lines, clone, activated(newcomer_env(tmp_path / "home"), clone)


@pytest.mark.needs_git  # a git clone of this checkout
def test_heroku_local_runs_the_dev_procfile_as_the_readme_says(tmp_path, launched):
    heroku, lines, clone, env = heroku_local_setup(tmp_path, "honcho and `heroku local`")
    port = free_port()
    argv = [heroku, *words(lines["local"][0])[1:], "-p", str(port)]
    stack = launched(argv, env, clone, tmp_path / "heroku-local.log", port)
    stack.wait_up(timeout=120)
    assert "the catalogue is empty: loading the sample books" in stack.output()
    assert_shop_is_stocked(stack.base)

    for line in lines["local:run"]:
        result = in_second_terminal(line, clone, env)
        assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
    admin = next(filter(None, (re.search(r"create-admin (\S+@\S+)", line) for line in lines["local:run"])))
    assert log_in(stack.base, admin[1]).get(f"{stack.base}/admin/books", timeout=30).status_code == 200
    interrupt(stack)


@pytest.mark.needs_git  # a git clone of this checkout
def test_heroku_local_runs_the_real_procfile_after_the_release_line(tmp_path, launched):
    heroku, lines, clone, env = heroku_local_setup(tmp_path, "Running on real Postgres and Redis locally")
    for line in lines["local:run"]:  # heroku local never runs `release`
        result = in_second_terminal(line, clone, env)
        assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
    port = free_port()
    argv = [heroku, *words(lines["local"][0])[1:], "-p", str(port)]
    stack = launched(argv, env, clone, tmp_path / "procfile.log", port)
    body = stack.wait_ready(timeout=120)
    assert body["status"] == "ready" and body["checks"]["worker"]["ok"], body
    assert "sample books" not in stack.output(), "Procfile, Heroku's, never loads sample books"
    interrupt(stack)
