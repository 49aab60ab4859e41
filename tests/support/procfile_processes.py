"""Single Procfile process types as separate real processes, each killable alone.

honcho stops the whole formation when one process dies, but the fault tests
must SIGKILL the worker (and only it) and start it again, as Heroku does when a
dyno crashes. So each process type runs here on its own: its Procfile line
through `sh -c` (as Heroku does, for `VAR=x cmd` and `${VAR:-2}`), leading its
own process group so that signals reach whatever the shell started.
"""

from __future__ import annotations

import os
import re
import signal as signals
import subprocess
from pathlib import Path
from typing import Self

from tests.support.http_client import answers
from tests.support.processes import ROOT, free_port, procfile, wait_for


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in a process group, read from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()  # after "pid (comm)": state ppid pgrp ...
        except OSError:  # exited while we looked
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


class ProcfileProcess:
    """One Procfile process type; its output is appended to log_path across restarts."""

    def __init__(self, name: str, env: dict, log_path: Path, procfile_path: Path = ROOT / "Procfile", cwd: Path = ROOT):
        self.name = name
        self.command = procfile(procfile_path)[name]
        self.env = env
        self.log_path = Path(log_path)
        self.cwd = cwd
        self._proc: subprocess.Popen | None = None
        self._run_offset = 0  # where the current run's output starts in the log

    @property
    def pid(self) -> int | None:
        """The shell's pid, which is also the process group id."""
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> ProcfileProcess:
        assert not self.running, f"{self.name} already running"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._run_offset = log.tell()
            self._proc = subprocess.Popen(
                ["sh", "-c", self.command],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def signal(self, sig: int) -> None:
        """Send `sig` to the whole process group (the shell may or may not have exec'd the command)."""
        assert self._proc is not None, f"{self.name} never started"
        os.killpg(self._proc.pid, sig)

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL the group, as a crashed dyno; return once the shell is reaped and the group is gone."""
        if self._proc is None or self._gone():
            return  # never signal a reaped group: its id may belong to someone else by now
        try:
            os.killpg(self._proc.pid, signals.SIGKILL)
        except ProcessLookupError:
            pass
        self._wait_gone(timeout)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM the group (Heroku signals every process in the dyno) and wait until all of it has exited.

        Returns the shell's exit code, as Heroku reports it: dash does not exec the
        command, so the shell itself dies of the SIGTERM (-15 here, "status 143"
        on Heroku) whatever the command does; judge a graceful shutdown by the log.
        A process that outlives `timeout` gets SIGKILL (Heroku's next step) and the
        test fails with the log tail.
        """
        assert self._proc is not None, f"{self.name} never started"
        if not self._gone():
            try:
                os.killpg(self._proc.pid, signals.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self._wait_gone(timeout)
        except AssertionError:
            self.kill()
            raise AssertionError(
                f"{self.name} did not exit within {timeout:g} s of SIGTERM:\n{self.output()[-4000:]}"
            ) from None
        return self._proc.returncode

    def restart(self) -> ProcfileProcess:
        self.kill()
        return self.start()

    def _gone(self) -> bool:
        return self._proc.poll() is not None and not _group_members(self._proc.pid)

    def _wait_gone(self, timeout: float) -> None:
        wait_for(self._gone, timeout, what=f"{self.name} (process group {self._proc.pid}) to exit")

    def output(self, current_run: bool = False) -> str:
        """The whole log (every run), or only what the current/last run wrote."""
        if not self.log_path.exists():
            return ""
        data = self.log_path.read_bytes()
        return (data[self._run_offset :] if current_run else data).decode(errors="replace")

    def wait_for_output(
        self, pattern: str, timeout: float = 15.0, *, current_run: bool = True, interval: float = 0.05
    ) -> re.Match:
        """Wait for `pattern` in this run's output (by default), so a restart does not match the last run's lines."""
        return wait_for(
            lambda: re.search(pattern, self.output(current_run)),
            timeout,
            interval=interval,
            what=f"{self.name} output matching {pattern!r}",
        )


class ProcessSet:
    """Several Procfile processes with logs in one directory; kill_all() on exit.

    In a fixture: `with ProcessSet(tmp_path) as processes: yield processes`.
    """

    def __init__(self, log_dir: Path, procfile_path: Path = ROOT / "Procfile", cwd: Path = ROOT):
        self.log_dir = Path(log_dir)
        self.procfile_path = procfile_path
        self.cwd = cwd
        self.processes: dict[str, ProcfileProcess] = {}

    def start(self, name: str, env: dict, label: str | None = None) -> ProcfileProcess:
        """Start process type `name`; `label` (default: the name, e.g. "worker.2") keys it and names its log."""
        label = label or name
        assert label not in self.processes, f"{label} already in this set"
        process = ProcfileProcess(name, env, self.log_dir / f"{label}.log", self.procfile_path, self.cwd)
        self.processes[label] = process
        return process.start()

    def start_formation(self, env: dict) -> str:
        """web (on a free port), worker and clock, each its own process; web's base URL once it answers."""
        port = free_port()
        self.start("web", {**env, "PORT": str(port)})
        self.start("worker", env)
        self.start("clock", env)
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: answers(base + "/healthz"), 30, interval=0.1, what="the web process")
        return base

    def __getitem__(self, label: str) -> ProcfileProcess:
        return self.processes[label]

    def kill_all(self) -> None:
        for process in self.processes.values():
            process.kill()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.kill_all()
