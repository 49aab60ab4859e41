"""A copy of the deploy files, as a dyno's /app holds them, for a test to break or change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.processes import ROOT

DEPLOY_FILES = ("Procfile", "runtime.txt", "Pipfile", "Pipfile.lock", "app.json", "gunicorn.conf.py")


@pytest.fixture
def deploy_copy(tmp_path) -> Path:
    """The deploy files copied, and the package beside them, as a dyno's /app would have them."""
    root = tmp_path / "app"
    root.mkdir()
    for name in DEPLOY_FILES:
        shutil.copy(ROOT / name, root / name)
    (root / "blasto").symlink_to(ROOT / "blasto", target_is_directory=True)
    return root
