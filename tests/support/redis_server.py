"""A redis-server of the test's own, on its own port, that the test can stop and restart.

Fault tests take the broker away under a running app and bring it back on the
same port, which the shared Redis on 6379 must never be subjected to.
"""
from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path
from typing import Self

from tests.support.processes import free_port, wait_for
from tests.support.services import unavailable


class RedisServer:
    """`redis-server` in the foreground, no persistence, logging to tmp_dir/redis-<port>.log."""

    def __init__(self, port: int | None = None, *, tmp_dir: Path):
        self.port = port or free_port()
        self.tmp_dir = Path(tmp_dir)
        self.log_path = self.tmp_dir / f"redis-{self.port}.log"
        self._proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start it and return once it answers PING (the port is bound and it loaded its empty dataset)."""
        assert not self.running, "redis-server already running"
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server not installed")
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(self.tmp_dir), "--daemonize", "no"]
        with open(self.log_path, "ab") as log:  # append: one log across restarts
            self._proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_for(self._pong, timeout, interval=0.02, what=f"redis-server to answer PING on port {self.port}")
        except AssertionError:
            self.stop()
            raise AssertionError(f"redis-server did not start on port {self.port}:\n{self.output()[-3000:]}") from None
        return self

    def _pong(self) -> bool:
        import redis

        if self._proc.poll() is not None:
            raise AssertionError(f"redis-server exited ({self._proc.returncode}):\n{self.output()[-3000:]}")
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return client.ping()
        except redis.exceptions.RedisError:  # refused, or still LOADING
            return False
        finally:
            client.close()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (redis shuts down cleanly) and wait for exit; SIGKILL if it hangs. Then connections are refused."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
