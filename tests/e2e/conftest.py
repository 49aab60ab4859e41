"""Fixtures for tests that run the Procfile's processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.processes import ROOT, Stack, free_port
from tests.support.procfile_processes import ProcessSet

WEB_PORTS = 4  # room for `honcho start -c web=N` up to 4: web.N listens on PORT + N - 1


@pytest.fixture
def start_stack(tmp_path):
    """Start honcho stacks on free ports; whatever is still running at the end is killed."""
    stacks: list[Stack] = []

    def start(args: list[str], env: dict, cwd: Path = ROOT) -> Stack:
        port = free_port(count=WEB_PORTS)
        stack = Stack([*args[:1], "-p", str(port), *args[1:]], env, cwd, tmp_path / f"honcho-{len(stacks)}.log", port)
        stacks.append(stack)
        return stack

    yield start
    for stack in stacks:
        stack.kill()


@pytest.fixture
def empty_env_file(tmp_path) -> Path:
    """honcho must not read a developer's .env in these tests."""
    path = tmp_path / "empty.env"
    path.write_text("")
    return path


@pytest.fixture
def processes(tmp_path):
    """Procfile process types, each its own process (killable alone); all killed at the end."""
    with ProcessSet(tmp_path / "logs") as running:
        yield running
