"""Readiness checks: database, broker, and a worker round trip.

Each check returns a small dict for the JSON body. Failures name the part and a
short reason for the client; the full exception (which may carry hostnames)
goes to the log only.
"""
from __future__ import annotations

import logging
import time
import uuid

import redis
from celery import Celery
from flask import current_app
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import text

from blasto.config import redis_tls_options
from blasto.extensions import db
from blasto.health.tasks import ping

log = logging.getLogger("blasto.health")


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
    """One Redis PING within the budget, before publishing.

    redis-py (>= 6) retries a refused connection with backoff for ~6 s and
    kombu offers no setting for it, so a down Redis is detected here first.
    """
    url = celery.conf.broker_url
    if not url.startswith(("redis://", "rediss://")):
        return
    clients = current_app.extensions.setdefault("blasto.readiness_redis", {})
    client = clients.get(url)
    if client is None:
        # At most two connections per process, however often /readyz is hit:
        # Heroku's small Redis plans count every client.
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=2, timeout=timeout, socket_connect_timeout=timeout, socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0), **redis_tls_options(url),
        )
        client = clients[url] = redis.Redis(connection_pool=pool)
    client.ping()


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


def readiness() -> tuple[bool, dict]:
    database = check_database()
    broker, worker = check_broker_and_worker()
    checks = {"database": database, "broker": broker, "worker": worker}
    return all(part["ok"] for part in checks.values()), checks
