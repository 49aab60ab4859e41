"""The work waiting: the task queue's depth and the e-mails still owed.

Figures for people and dashboards (/readyz's "queue", and the StatsD gauges
the outbox sweep sends with `send_backlog_gauges`). They never fail readiness:
a long queue is slow, not broken, and failing /readyz under load would only
add alarms to the load.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import Celery
from sqlalchemy import ColumnElement, and_, func, select

from blasto.core.extensions import db
from blasto.core.metrics import backlog_gauges, client_for, send_gauges
from blasto.core.redis_client import health_redis, is_redis
from blasto.models import OutboxMessage
from blasto.models.base import utcnow
from blasto.models.outbox import FAILED, PENDING

log = logging.getLogger("blasto.health")

# A pending e-mail owed this long has outlived every retry's backoff and the sweep's requeues:
# something (the worker, the SMTP server) needs a person.
STUCK_AFTER = timedelta(hours=1)


def queue_depth(celery: Celery, timeout: float) -> int:
    """Messages waiting in the task queue: its Redis list's length, or the embedded broker's count of them."""
    queue, url = celery.conf.task_default_queue, celery.conf.broker_url
    if is_redis(url):
        return int(health_redis(url, timeout).llen(queue))
    with celery.connection_for_read() as connection:
        channel = connection.default_channel
        try:
            return channel.queue_declare(queue=queue).message_count
        finally:
            # kombu's SQLAlchemy channel never closes its session, so each probe would keep one pooled
            # connection of the broker's database until /readyz found the pool exhausted.
            channel.session.close()


def pending_emails() -> tuple[int, float]:
    """How many outbox rows are pending, and the age in seconds of the oldest (0 when none)."""
    query = select(func.count(), func.min(OutboxMessage.created_at)).where(OutboxMessage.state == PENDING)
    with db.engine.connect() as connection:
        count, oldest = connection.execute(query).one()
    return count, 0.0 if oldest is None else round(max(0.0, (utcnow() - oldest).total_seconds()), 1)


def stuck(now: datetime) -> ColumnElement[bool]:
    """Pending rows owed for longer than STUCK_AFTER: the admin outbox's "stuck" filter and the dashboard's count."""
    return and_(OutboxMessage.state == PENDING, OutboxMessage.created_at < now - STUCK_AFTER)


def emails_needing_a_person(now: datetime) -> tuple[int, int]:
    """(failed, stuck) e-mails, each an index range scan on ix_outbox_messages_pending_due's state."""
    failed = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == FAILED))
    stuck_count = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(stuck(now)))
    return failed or 0, stuck_count or 0


def backlog(
    celery: Celery, timeout: float, *, depth: int | None = None, broker: bool = True, database: bool = True
) -> dict:
    """The figures; each is None when it could not be read (or its service is known to be down).

    `depth`: the queue's length when the caller has just read it (readiness's broker check).
    """
    figures: dict = {
        "name": celery.conf.task_default_queue,
        "depth": depth,
        "pending_emails": None,
        "oldest_pending_email_seconds": None,
    }
    if broker and depth is None:
        try:
            figures["depth"] = queue_depth(celery, timeout)
        except Exception as exc:  # kombu and redis-py raise many connection error types
            log.warning("queue depth unknown", extra={"error": f"{type(exc).__name__}: {exc}"})
    if database:
        try:
            figures["pending_emails"], figures["oldest_pending_email_seconds"] = pending_emails()
        except Exception as exc:
            log.warning("pending e-mails unknown", extra={"error": f"{type(exc).__name__}: {exc}"})
    return figures


def send_backlog_gauges(celery: Celery) -> None:
    """Measure the backlog and send it as gauges; nothing at all (not even a query) without STATSD_HOST.

    Called by the outbox sweep: one sender at one steady pace whatever the
    number of dynos, since exactly one clock schedules it.
    """
    settings = celery.flask_app.config.get("STATSD")
    if client_for(settings) is None:
        return
    figures = backlog(celery, celery.flask_app.config["READY_TIMEOUT_SECONDS"])
    send_gauges(settings, backlog_gauges(figures))
