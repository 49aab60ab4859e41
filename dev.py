#!/usr/bin/env python3
"""Blasto's local entry point: a fresh machine needs only Python 3.11 and pip.

    python3 dev.py start     # install from Pipfile.lock, then web + worker + clock (honcho)
    python3 dev.py run CMD   # CMD with .venv on PATH and .env loaded, as `honcho run CMD`
    python3 dev.py test      # install from Pipfile.lock, then the test suite (--fast: the fast tier)
    python3 dev.py check     # ruff (lint and format), mypy and import-linter, as CI runs them
    python3 dev.py lock      # relock after editing the Pipfile (what scripts/lock runs)
    python3 dev.py bench     # the mixed shopper workload (Locust), before/after side by side

The first run makes two virtualenvs in the project: `.tools` (pipenv itself)
and `.venv` (the app, installed by `pipenv sync --dev` from the lock, so local
runs use exactly what Heroku installs). Later runs reinstall only when the
lock changed. pipenv is the version Heroku's Python buildpack installs, and
it locks and verifies with pip's configuration isolated as on a Heroku build
(`heroku_pip_env`), so the lock's hash is the one `git push heroku` computes.
`start` and `run` also write `.env` on first use (development mode, a
random SECRET_KEY, PROCFILE=Procfile.dev), after which a plain `honcho start`
in the activated `.venv` runs the same stack. `start` accepts honcho's own
options (`-p PORT`, `-f FILE`, process names) and prints the address web serves.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".tools"
VENV = ROOT / ".venv"
# What Heroku's Python buildpack installs and builds with (v351, 2026-08-18:
# its requirements/pipenv.txt). Change it when the buildpack does.
PIPENV_VERSION = "2026.7.1"
STAMP = VENV / ".blasto-lock-sha256"
PIPENV_STAMP = TOOLS / ".pipenv-version"


def say(message: str) -> None:
    print(f"dev.py: {message}", flush=True)


def run(*command: str | Path, env: dict | None = None) -> None:
    subprocess.run([str(part) for part in command], cwd=ROOT, env=env, check=True)


def heroku_pip_env(env) -> dict:
    """`env` with pip's configuration as a Heroku build has it, for hashing the Pipfile.

    pipenv folds the index settings of every pip configuration it finds (pip.conf
    files, PIP_INDEX_URL) into the Pipfile's hash. A Heroku build has no pip.conf,
    and of the app's config vars passes only PIP_EXTRA_INDEX_URL to pipenv, so
    that one stays (set it here as on the app, or leave it unset on both).
    """
    isolated = dict(env, PIP_CONFIG_FILE=os.devnull)  # pip then loads no configuration file
    isolated.pop("PIP_INDEX_URL", None)
    return isolated


def pipenv_env() -> dict:
    env = dict(os.environ, PIPENV_VENV_IN_PROJECT="1", PIPENV_YES="1", PIPENV_NOSPIN="1")
    env.pop("VIRTUAL_ENV", None)  # never install into whatever venv runs this script
    return env


def ensure_pipenv() -> Path:
    pipenv = TOOLS / "bin" / "pipenv"
    installed = PIPENV_STAMP.read_text().strip() if PIPENV_STAMP.exists() else None
    if not pipenv.exists() or installed != PIPENV_VERSION:
        say(f"installing pipenv {PIPENV_VERSION} (Heroku's) into .tools/")
        venv.EnvBuilder(with_pip=True, clear=True).create(TOOLS)
        run(TOOLS / "bin" / "python", "-m", "pip", "install", "--quiet", f"pipenv=={PIPENV_VERSION}")
        PIPENV_STAMP.write_text(PIPENV_VERSION + "\n")
    return pipenv


def ensure_venv() -> None:
    """`pipenv sync --dev` into .venv, skipped when the lock is unchanged."""
    digest = hashlib.sha256((ROOT / "Pipfile.lock").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == digest and (VENV / "bin" / "python").exists():
        return
    pipenv = ensure_pipenv()
    say("installing the locked dependencies into .venv/ (pipenv sync --dev)")
    run(pipenv, "sync", "--dev", env=pipenv_env())
    STAMP.write_text(digest + "\n")


def write_dotenv(root: Path = ROOT) -> bool:
    """Copy .env.example to .env with a fresh SECRET_KEY, unless .env exists."""
    target = root / ".env"
    if target.exists():
        return False
    example = (root / ".env.example").read_text()
    target.write_text(example.replace("SECRET_KEY=", f"SECRET_KEY={secrets.token_hex(32)}", 1))
    return True


def venv_env() -> dict:
    env = dict(os.environ, VIRTUAL_ENV=str(VENV), PYTHONUNBUFFERED="1")
    env["PATH"] = os.pathsep.join([str(VENV / "bin"), str(TOOLS / "bin"), env.get("PATH", "")])
    return env


def start(args: list[str]) -> int:
    """`honcho start ARGS` in the venv, saying where the shop is once web answers there."""
    ensure_venv()
    if write_dotenv():
        say("wrote .env (development settings; edit it to use Postgres/Redis)")
    os.chdir(ROOT)
    command = [str(VENV / "bin" / "honcho"), "start", *args]
    if {"-h", "--help"} & set(args):
        os.execve(command[0], command, venv_env())
    processes, port = honcho_plan(args, os.environ)
    if port is None:  # no web process, or honcho will refuse the arguments and say why
        if processes and "web" not in processes:
            say(f"starting {' + '.join(processes)} (no web process: nothing serves HTTP)")
        os.execve(command[0], command, venv_env())
    if not port_is_free(port):
        say(
            f"port {port} is in use (another `dev.py start`?): stop that, or choose a port with -p, "
            f"e.g. `python3 dev.py start -p {port + 1000}`"
        )
        return 1
    url = f"http://localhost:{port}/"
    say(f"starting {' + '.join(processes)}; the shop will be at {url} (Ctrl+C stops them)")
    return supervise(command, port, url)


def supervise(command: list[str], port: int, url: str) -> int:
    """Run honcho as a child, print `url` once its port answers, pass SIGTERM on, return honcho's code."""
    child = subprocess.Popen(command, cwd=ROOT, env=venv_env())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches honcho too, and it stops everything
    signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))

    def announce() -> None:
        while child.poll() is None:
            try:
                socket.create_connection(("localhost", port), timeout=1).close()
            except OSError:
                time.sleep(0.25)
                continue
            say(f"the shop is up at {url}")
            return

    threading.Thread(target=announce, daemon=True).start()
    return child.wait()


def honcho_plan(args: list[str], environ) -> tuple[list[str], int | None]:
    """The process types `honcho start ARGS` runs, and the port web.1 gets (None: no web).

    honcho 2.0.0's rules: Procfile from -f, else PROCFILE in the env file(s)
    (-e, default .env, under -d), else in the environment; base port from PORT
    in the env file(s), else -p, else PORT in the environment, else 5000; each
    process type after the first adds 100 (in the order given, or the Procfile's).
    """
    parser = argparse.ArgumentParser(add_help=False)
    for flags in (
        ("-e", "--env"),
        ("-d", "--app-root"),
        ("-f", "--procfile"),
        ("-p", "--port"),
        ("-c", "--concurrency"),
        ("-q", "--quiet"),
    ):
        parser.add_argument(*flags)
    parser.add_argument("--no-colour", action="store_true")
    parser.add_argument("--no-prefix", action="store_true")
    parser.add_argument("processes", nargs="*")
    options, _ = parser.parse_known_args(args)
    root = Path(options.app_root or ".")
    dotenv: dict[str, str] = {}
    for name in (options.env or ".env").split(","):
        path = root / name.strip()
        if path.is_file():
            dotenv.update(read_env_file(path.read_text()))
    procfile_name = first_set(options.procfile, dotenv.get("PROCFILE"), environ.get("PROCFILE"), "Procfile")
    try:
        text = (root / procfile_name).read_text()
    except OSError:
        return [], None  # honcho says what is wrong
    declared = [match[1] for match in re.finditer(r"^([A-Za-z0-9_-]+):\s*(.+)$", text, re.M)]
    processes = options.processes or declared
    try:
        base = int(first_set(dotenv.get("PORT"), options.port, environ.get("PORT"), "5000"))
    except ValueError:
        return processes, None
    if "web" not in processes or "web" not in declared:
        return processes, None
    return processes, base + 100 * processes.index("web")


def read_env_file(text: str) -> dict[str, str]:
    """KEY=value lines as honcho reads them: shell quoting and comments, no ${VAR} expansion."""
    values = {}
    for line in text.splitlines():
        tokens = list(shlex.shlex(line, posix=True))
        if len(tokens) >= 3 and tokens[1] == "=" and re.match(r"[A-Za-z_]", tokens[0]):
            values[tokens[0]] = "".join(tokens[2:])
    return values


def first_set(*values: str | None) -> str:
    return next(value for value in values if value is not None)


def port_is_free(port: int) -> bool:
    """Can gunicorn bind [::]:port (IPv4 included)? True when the check itself cannot run."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(("::", port))
    except OSError as exc:
        return exc.errno != errno.EADDRINUSE
    return True


def run_command(args: list[str]) -> int:
    """`honcho run ARGS` in the project: .venv first on PATH, .env loaded, from any terminal."""
    if not args:
        print("usage: python3 dev.py run COMMAND [ARGS...]", file=sys.stderr)
        return 2
    ensure_venv()
    if write_dotenv():
        say("wrote .env (development settings; edit it to use Postgres/Redis)")
    os.chdir(ROOT)
    os.execve(VENV / "bin" / "honcho", ["honcho", "run", "--", *args], venv_env())


# xdist workers for `dev.py test`: most tests wait on processes they started, so more workers
# than cores pays. BLASTO_TEST_WORKERS or pytest's own `-n N` overrides it (`-n 0`: one process).
TEST_WORKERS = 4
# The fast tier (`--fast`): tests that start no process and no browser and are not slow by design
# (pytest.ini's markers), with fewer workers: it is mostly CPU.
FAST = "not processes and not browser and not slow"
FAST_WORKERS = 2


def test(args: list[str]) -> int:
    ensure_venv()
    ensure_pipenv()  # the deploy-contract tests run `pipenv verify`
    os.chdir(ROOT)
    os.execve(VENV / "bin" / "python", ["python", "-m", "pytest", *pytest_args(args, os.environ)], test_env())


def test_env() -> dict:
    """The venv's environment, keeping compiled modules (.pyc, gitignored) even where the shell says not to.

    With PYTHONDONTWRITEBYTECODE set, every xdist worker rewrote and compiled
    every test module again on each run (pytest caches its rewritten asserts
    only as bytecode), and every process a test starts compiled blasto again.
    """
    env = venv_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


# What keeps the code as the README's Layout and house style describe it; settings in pyproject.toml.
CHECKS = (
    ("ruff", "check", "."),
    ("ruff", "format", "--check", "."),
    ("mypy",),
    ("lint-imports",),
)


def check(args: list[str]) -> int:
    """Run every check, report each, fail if any failed (`--fix` lets ruff fix and format first)."""
    ensure_venv()
    os.chdir(ROOT)
    if "--fix" in args:
        run(VENV / "bin" / "ruff", "check", "--fix", ".")
        run(VENV / "bin" / "ruff", "format", ".")
    failed = [
        " ".join(command)
        for command in CHECKS
        if subprocess.run([VENV / "bin" / command[0], *command[1:]], env=venv_env()).returncode != 0
    ]
    say(f"failed: {', '.join(failed)}" if failed else "ruff, mypy and import-linter: all clean")
    return 1 if failed else 0


def pytest_args(args: list[str], environ) -> list[str]:
    """pytest's arguments for `dev.py test ARGS`: `--fast` becomes the fast tier's -m, and a worker count unless given."""
    args = list(args)
    fast = "--fast" in args
    chosen = ["-m", FAST] if fast else []
    if fast:
        args.remove("--fast")
    workers_given = any(re.fullmatch(r"-n\d*|--numprocesses(=.*)?|no:xdist", arg) for arg in args)
    if not workers_given:
        chosen += ["-n", environ.get("BLASTO_TEST_WORKERS") or str(FAST_WORKERS if fast else TEST_WORKERS)]
    return [*chosen, *args]


def lock(args: list[str]) -> int:
    """pipenv lock as Heroku hashes, then empty the lock's sources (no index host is committed), then verify."""
    pipenv = ensure_pipenv()
    env = heroku_pip_env(pipenv_env())
    run(pipenv, "lock", *args, env=env)
    path = ROOT / "Pipfile.lock"
    locked = json.loads(path.read_text())
    locked["_meta"]["sources"] = []  # not covered by the hash: verify and --deploy still pass
    path.write_text(json.dumps(locked, indent=4, sort_keys=True) + "\n")
    run(pipenv, "verify", env=env)
    if env.get("PIP_EXTRA_INDEX_URL"):
        say("locked with PIP_EXTRA_INDEX_URL set: the Heroku app needs the same config var, or its build aborts")
    return 0


def bench(args: list[str]) -> int:
    """bench/run.py: the mixed shopper workload, e.g. `python3 dev.py bench --before ../before` (docs/BENCHMARKS.md)."""
    ensure_venv()
    os.chdir(ROOT)
    os.execve(VENV / "bin" / "python", ["python", "bench/run.py", *args], venv_env())


COMMANDS = {"start": start, "run": run_command, "test": test, "check": check, "lock": lock, "bench": bench}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in COMMANDS:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    if sys.version_info[:2] != (3, 11):
        say(f"warning: Blasto targets Python 3.11 (runtime.txt); this is {sys.version.split()[0]}")
    try:
        return COMMANDS[argv[1]](argv[2:])
    except subprocess.CalledProcessError as exc:
        say(f"failed: {' '.join(map(str, exc.cmd))} (exit {exc.returncode})")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
