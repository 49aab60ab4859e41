"""Readiness checks: the database, the broker, a worker's heartbeat and the clock's sweeps.

Each check returns a small dict for the JSON body. Failures name the part and a
short reason for the client; the full exception (which may carry hostnames)
goes to the log only.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from celery import Celery
from flask import current_app
from sqlalchemy import select, text

from blasto.core.config import HEARTBEAT_ENTRY
from blasto.core.extensions import db
from blasto.models import SweepHeartbeat
from blasto.models.base import utcnow
from blasto.outbox.backlog import backlog, queue_depth

log = logging.getLogger("blasto.health")

# A periodic task whose last run is older than this many of its periods has
# stopped: one late run is a busy worker, three in a row is a missing process.
STALE_AFTER_PERIODS = 3
CLOCK_HINT = "is the clock process running (heroku ps:scale clock=1)? If it is, see the worker's log"
WORKER_HINT = (
    "is a worker running (heroku ps:scale worker=1)? The clock sends the heartbeat: "
    "if the sweeps are late too, start with the clock"
)


def _elapsed_ms(start: float) -> float:
    return round((time.monotonic() - start) * 1000, 1)


def check_database() -> dict:
    start = time.monotonic()
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ready"
        log.warning("database check failed", extra={"error": f"{type(exc).__name__}: {exc}"})
        return {"ok": False, "error": "database unreachable", "ms": _elapsed_ms(start)}
    return {"ok": True, "ms": _elapsed_ms(start)}


def check_broker(celery: Celery, timeout: float) -> tuple[dict, int | None]:
    """The broker answers within the budget: one read of the queue's length (no retries), and that length."""
    start = time.monotonic()
    try:
        depth = queue_depth(celery, timeout)
    except Exception as exc:  # kombu and redis-py raise many connection error types
        log.warning("broker check failed", extra={"error": f"{type(exc).__name__}: {exc}"})
        return {"ok": False, "error": "broker unreachable", "ms": _elapsed_ms(start)}, None
    return {"ok": True, "ms": _elapsed_ms(start)}, depth


def last_runs() -> dict[str, datetime]:
    """When each periodic task last ran, as the worker stamped it (sweep_heartbeats)."""
    with db.engine.connect() as connection:
        return dict(connection.execute(select(SweepHeartbeat.task, SweepHeartbeat.ran_at)).all())


def freshness(entry: dict, ran: dict[str, datetime], now: datetime) -> dict:
    """{"ok", "every_seconds", "age_seconds"} for one beat schedule entry."""
    every = float(entry["schedule"])
    ran_at = ran.get(entry["task"])
    age = None if ran_at is None else round(max(0.0, (now - ran_at).total_seconds()), 1)
    return {"ok": age is not None and age <= STALE_AFTER_PERIODS * every, "every_seconds": every, "age_seconds": age}


def check_worker(ran: dict[str, datetime], now: datetime) -> dict:
    """A worker ran the heartbeat within STALE_AFTER_PERIODS of its period."""
    part = freshness(_schedule()[HEARTBEAT_ENTRY], ran, now)
    if not part["ok"]:
        age = part["age_seconds"]
        said = (
            "no worker has run the heartbeat yet" if age is None else f"no worker has run the heartbeat for {age:g} s"
        )
        part["error"] = f"{said} (it is sent every {part['every_seconds']:g} s): {WORKER_HINT}"
    return part


def check_sweeps(ran: dict[str, datetime], now: datetime) -> dict:
    """Each scheduled sweep ran within STALE_AFTER_PERIODS of its period."""
    sweeps, late = {}, []
    for name, entry in _schedule().items():
        if name == HEARTBEAT_ENTRY:
            continue
        sweeps[name] = part = freshness(entry, ran, now)
        if not part["ok"]:
            age, every = part["age_seconds"], part["every_seconds"]
            late.append(f"{name} never ran" if age is None else f"{name} last ran {age:g} s ago (every {every:g} s)")
    result: dict = {"ok": not late, "sweeps": sweeps}
    if late:
        result["error"] = f"{'; '.join(late)}: {CLOCK_HINT}"
    return result


def _schedule() -> dict:
    return current_app.config["CELERY"]["beat_schedule"]


def check_periodic_tasks(database_ok: bool) -> tuple[dict, dict]:
    """(worker, sweeps): both read the times the worker stamped, in one query."""
    if not database_ok:
        unchecked = {"ok": False, "error": "not checked: database unreachable"}
        return dict(unchecked), dict(unchecked)
    start = time.monotonic()
    try:
        ran = last_runs()
    except Exception as exc:
        log.warning("heartbeats unreadable", extra={"error": f"{type(exc).__name__}: {exc}"})
        error = {
            "ok": False,
            "error": "sweep heartbeats unreadable (are the migrations applied?)",
            "ms": _elapsed_ms(start),
        }
        return dict(error), dict(error)
    now, ms = utcnow(), _elapsed_ms(start)
    return {**check_worker(ran, now), "ms": ms}, {**check_sweeps(ran, now), "ms": ms}


def readiness() -> tuple[bool, dict, dict]:
    """(ready, the checks by part, the queue figures); the figures inform and never fail readiness."""
    celery: Celery = current_app.extensions["celery"]
    timeout = current_app.config["READY_TIMEOUT_SECONDS"]
    database = check_database()
    broker, depth = check_broker(celery, timeout)
    worker, sweeps = check_periodic_tasks(database["ok"])
    checks = {"database": database, "broker": broker, "worker": worker, "sweeps": sweeps}
    queue = backlog(celery, timeout, depth=depth, broker=broker["ok"], database=database["ok"])
    return all(part["ok"] for part in checks.values()), checks, queue
