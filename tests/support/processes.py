"""Real processes for end-to-end tests: honcho stacks and one-shot commands.

Waiting is always on a condition with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.parallel import worker_count, worker_index

ROOT = Path(__file__).resolve().parents[2]
# A stack's first /readyz 200 (migrations, a worker's round trip, the clock's first sweeps): a deadline, not a
# wait. Seen at 60 s and more when the machine runs two suites at once (CI), so generous.
READY_DEADLINE_SECONDS = 120.0
# matplotlib runs fc-list once per fresh environment to build its font cache (a new CI dyno's first
# chart): the library's start-up, not a process of the shop's, and it holds no connection.
LIBRARY_HELPERS = ("fc-list",)
BIN = Path(sys.executable).parent


def free_port(count: int = 1) -> int:
    """A port that is free, with the `count - 1` after it (honcho gives web.2 PORT + 1, and so on).

    Chosen below the kernel's ephemeral range: outgoing connections (to
    Postgres, Redis, the servers under test) take their local ports from that
    range at any moment, so a port found free there can be taken before the
    server binds it. CI once lost web.2's PORT + 1 that way. Each xdist worker
    draws from its own slice of the range, so two workers never pick the same.
    """
    width = (_ephemeral_floor() - PORT_FLOOR) // worker_count()
    floor = PORT_FLOOR + width * worker_index()
    ceiling = floor + width - count
    rng = random.SystemRandom()
    for _ in range(500):
        base = rng.randrange(floor, ceiling)
        if all(port_is_free(base + offset) for offset in range(count)):
            return base
    raise RuntimeError(f"no {count} free ports in a row between {floor} and {ceiling}")


PORT_FLOOR = 20000  # above the well-known ports services here listen on (5432, 6379, 15672...)


def _ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def port_is_free(port: int) -> bool:
    """Free on every address, as gunicorn binds it ([::], which covers IPv4 too)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(("::", port))
        return True
    except OSError:
        return False


def process_env(**overrides: str | None) -> dict:
    """The test process's environment with the venv first on PATH; None removes."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def production_env(**extra: str) -> dict:
    """What a Heroku dyno would have: production mode, a strong key, two of each process."""
    import secrets

    settings = {
        "BLASTO_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "WEB_CONCURRENCY": "2",
        "WORKER_CONCURRENCY": "2",
    }
    return process_env(**{**settings, **extra})


def wait_for(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def http_get(url: str, headers: dict | None = None, timeout: float = 10.0):
    """(status, headers, body) for a GET; HTTP errors are answers, not exceptions."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


class Stack:
    """`honcho start` in its own process group, output captured to a file."""

    def __init__(self, args: list[str], env: dict, cwd: Path, log_path: Path, port: int):
        self.port = port
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [str(BIN / "honcho"), *args],
            cwd=cwd,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def child_pids(self) -> list[int]:
        return [int(pid) for pid in re.findall(r"started \(pid=(\d+)\)", self.output())]

    def get(self, path: str, headers: dict | None = None):
        return http_get(self.base + path, headers)

    def wait_ready(self, timeout: float = READY_DEADLINE_SECONDS) -> dict:
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"honcho exited early ({self.proc.returncode}):\n{self.output()[-4000:]}")
            try:
                status, _, body = self.get("/readyz")
            except OSError:
                return None
            return json.loads(body) if status == 200 else None

        try:
            return wait_for(ready, timeout, interval=0.1, what=f"/readyz = 200 on port {self.port}")
        except AssertionError:
            raise AssertionError(f"stack never became ready:\n{self.output()[-4000:]}") from None

    def wait_for_output(self, pattern: str, timeout: float = 15.0) -> re.Match:
        return wait_for(lambda: re.search(pattern, self.output()), timeout, what=f"output matching {pattern!r}")

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM to honcho (as Ctrl+C or a dyno restart would); returns its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            output = self.output()
            self.kill()
            raise AssertionError(f"honcho did not stop within {timeout:g} s:\n{output[-4000:]}") from None
        finally:
            if not self._log.closed:
                self._log.close()
        return code

    def kill(self) -> None:
        """SIGKILL honcho and every process group it started (each child leads its own)."""
        for pgid in [self.proc.pid, *self.child_pids()]:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.proc.poll() is None:
            self.proc.wait(5)
        if not self._log.closed:
            self._log.close()


def run_command(command: str, env: dict, cwd: Path = ROOT, timeout: float = 120.0) -> subprocess.CompletedProcess:
    """Run a Procfile command line the way Heroku does: through a shell."""
    return subprocess.run(["sh", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def procfile(path: Path = ROOT / "Procfile") -> dict[str, str]:
    from honcho.environ import parse_procfile

    return dict(parse_procfile(path.read_text()).processes)


def web_procfile(app: str, path: Path) -> Path:
    """Write a Procfile at `path` whose one line is the Procfile's web line serving `app` in Blasto's place."""
    web = procfile(ROOT / "Procfile")["web"]
    if "blasto:APP" not in web:
        raise ValueError(f"the Procfile's web line does not serve blasto:APP: {web}")
    path.write_text(f"web: {web.replace('blasto:APP', app)}\n")
    return path
