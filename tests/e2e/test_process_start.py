"""A process that loads Blasto freezes what loading made, and leaves the collector as it found it (blasto/__init__.py).

The freeze is process-wide, so each case is a fresh interpreter: the worker's
and the release phase's way in (`import blasto`, then `APP`), a gunicorn master's
(collector already off, as gunicorn.conf.py leaves it), and an environment
that cannot build the app (the stand-in `flask check` uses).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.processes import ROOT, production_env

pytestmark = pytest.mark.processes

# Loading and building the app leaves some 280,000 objects; a bare interpreter holds a few thousand.
FROZEN_AT_LEAST = 100_000

# Nothing connects while the app is built; these only have to parse.
SERVICES = {
    "DATABASE_URL": "postgres://u:pw@db.example.com:5432/blasto",
    "REDIS_URL": "rediss://:pw@redis.example.com:6380",
    "SMTP_URL": "smtp://user:pw@smtp.example.com:587?starttls=true",
    "MAIL_FROM": "Blasto <shop@example.com>",
}
REPORT = """
import gc, json, sys
if sys.argv[1] == "off":
    gc.disable()
import blasto
app = getattr(blasto, sys.argv[2])
built = "celery" in app.extensions  # the stand-in `flask check` gets has no extensions
print(json.dumps({"built": built, "collecting": gc.isenabled(), "frozen": gc.get_freeze_count()}))
"""


def load(collector: str, attribute: str, **env: str) -> dict:
    """Load blasto in a fresh interpreter, the collector on or off first; its state after `blasto.<attribute>`."""
    result = subprocess.run(
        [sys.executable, "-c", REPORT, collector, attribute],
        cwd=ROOT,
        env=production_env(**{**SERVICES, **env}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_loading_the_app_freezes_its_objects_and_collects_afterwards():
    state = load("on", "APP")
    assert state["built"] is True
    assert state["collecting"] is True
    assert state["frozen"] >= FROZEN_AT_LEAST


def test_a_collector_that_was_off_stays_off_for_the_gunicorn_master_to_freeze_before_forking():
    state = load("off", "APP")
    assert state["built"] is True
    assert state["collecting"] is False
    assert state["frozen"] >= FROZEN_AT_LEAST


def test_an_environment_that_cannot_build_the_app_still_leaves_the_collector_on():
    state = load("on", "application", SECRET_KEY="short")
    assert state["built"] is False
    assert state["collecting"] is True
