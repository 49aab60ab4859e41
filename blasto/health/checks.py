"""Readiness checks: database, broker, a worker round trip, and the clock's sweeps.

Each check returns a small dict for the JSON body. Failures name the part and a
short reason for the client; the full exception (which may carry hostnames)
goes to the log only.
"""
from __future__ import annotations

import logging
import time
import uuid

from celery import Celery
from flask import current_app
from sqlalchemy import select, text

from blasto.core.extensions import db
from blasto.outbox.backlog import backlog
from blasto.core.redis_client import health_redis, is_redis
from blasto.health.tasks import ping
from blasto.models import SweepHeartbeat
from blasto.models.base import utcnow

log = logging.getLogger("blasto.health")

# A sweep whose last run is older than this many of its periods has stopped:
# one late run is a busy worker, three in a row is a missing clock.
STALE_AFTER_PERIODS = 3
CLOCK_HINT = "is the clock process running (heroku ps:scale clock=1)? If it is, see the worker's log"


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


def ping_redis_broker(celery: Celery, timeout: float) -> None:
    """One Redis PING within the budget, before publishing (kombu's own connection would retry for seconds)."""
    url = celery.conf.broker_url
    if is_redis(url):
        health_redis(url, timeout).ping()


def send_ping(timeout: float):
    """Publish a ping without retries; returns (nonce, AsyncResult) or raises."""
    nonce = uuid.uuid4().hex
    result = ping.apply_async(
        args=(nonce,),
        expires=timeout,  # a ping nobody picked up in time is discarded, not piled up
        retry=False,
    )
    return nonce, result


def wait_for_result(celery: Celery, task_id: str, timeout: float) -> dict | None:
    """Poll the result backend until the task's result arrives or the deadline.

    Polling (rather than AsyncResult.get) is safe from gunicorn's threads: the
    Redis backend's pub/sub consumer is shared per process and not thread-safe.
    """
    backend = celery.backend
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        meta = backend.get_task_meta(task_id)
        if meta.get("status") == "SUCCESS":
            backend.forget(task_id)
            return meta.get("result")
        if time.monotonic() + delay > deadline:
            return None
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def check_broker_and_worker() -> tuple[dict, dict]:
    celery: Celery = current_app.extensions["celery"]
    timeout = current_app.config["READY_TIMEOUT_SECONDS"]
    start = time.monotonic()
    try:
        ping_redis_broker(celery, timeout)
        nonce, result = send_ping(timeout)
    except Exception as exc:  # kombu raises many connection error types
        log.warning("broker check failed", extra={"error": f"{type(exc).__name__}: {exc}"})
        broker = {"ok": False, "error": "broker unreachable", "ms": _elapsed_ms(start)}
        return broker, {"ok": False, "error": "not checked: broker unreachable"}
    broker = {"ok": True, "ms": _elapsed_ms(start)}
    start = time.monotonic()
    try:
        answer = wait_for_result(celery, result.id, timeout)
    except Exception as exc:
        log.warning("result backend check failed", extra={"error": f"{type(exc).__name__}: {exc}"})
        return broker, {"ok": False, "error": "result backend unreachable", "ms": _elapsed_ms(start)}
    if not answer or answer.get("pong") != nonce:
        return broker, {"ok": False, "error": f"no worker answered within {timeout:g} s", "ms": _elapsed_ms(start)}
    return broker, {"ok": True, "ms": _elapsed_ms(start), "worker": answer.get("worker")}


def check_sweeps() -> dict:
    """Each scheduled sweep ran within STALE_AFTER_PERIODS of its period (the worker stamps sweep_heartbeats)."""
    start = time.monotonic()
    try:
        with db.engine.connect() as connection:
            ran = dict(connection.execute(select(SweepHeartbeat.task, SweepHeartbeat.ran_at)).all())
    except Exception as exc:
        log.warning("sweeps check failed", extra={"error": f"{type(exc).__name__}: {exc}"})
        error = "sweep heartbeats unreadable (are the migrations applied?)"
        return {"ok": False, "error": error, "ms": _elapsed_ms(start)}
    now, sweeps, late = utcnow(), {}, []
    for name, entry in current_app.config["CELERY"]["beat_schedule"].items():
        every = float(entry["schedule"])
        ran_at = ran.get(entry["task"])
        age = None if ran_at is None else round(max(0.0, (now - ran_at).total_seconds()), 1)
        ok = age is not None and age <= STALE_AFTER_PERIODS * every
        sweeps[name] = {"ok": ok, "every_seconds": every, "age_seconds": age}
        if not ok:
            late.append(f"{name} never ran" if age is None else f"{name} last ran {age:g} s ago (every {every:g} s)")
    part = {"ok": not late, "ms": _elapsed_ms(start), "sweeps": sweeps}
    if late:
        part["error"] = f"{'; '.join(late)}: {CLOCK_HINT}"
    return part


def readiness() -> tuple[bool, dict, dict]:
    """(ready, the checks by part, the queue figures); the figures inform and never fail readiness."""
    database = check_database()
    broker, worker = check_broker_and_worker()
    sweeps = check_sweeps() if database["ok"] else {"ok": False, "error": "not checked: database unreachable"}
    checks = {"database": database, "broker": broker, "worker": worker, "sweeps": sweeps}
    celery: Celery = current_app.extensions["celery"]
    queue = backlog(celery, current_app.config["READY_TIMEOUT_SECONDS"], broker=broker["ok"], database=database["ok"])
    return all(part["ok"] for part in checks.values()), checks, queue
