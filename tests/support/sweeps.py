"""The clock's sweeps in a test app: run them as the clock would have a worker run them, or age their heartbeats."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from blasto.core.extensions import db
from blasto.models import SweepHeartbeat
from blasto.models.base import utcnow

OUTBOX_SWEEP, REPORTS_SWEEP, ORDERS_SWEEP = "blasto.outbox.sweep", "blasto.reports.sweep", "blasto.orders.sweep"
CARD_SWEEP = "blasto.cards.sweep"


def run_every_sweep(app, but: tuple[str, ...] = ()) -> None:
    """Run each task of the beat schedule once, here and now (each stamps its heartbeat), except those in `but`."""
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()  # the task modules in `imports`, as a worker loads them
    for entry in app.config["CELERY"]["beat_schedule"].values():
        if entry["task"] not in but:
            celery.tasks[entry["task"]].apply().get()


def run_outbox_sweep(app):
    """Run the outbox sweep once, here and now; returns how many e-mails it queued."""
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()
    return celery.tasks[OUTBOX_SWEEP].apply().get()


def run_orders_sweep(app) -> int:
    """Run the orders sweep once, here and now (it also asks again for lost cover sizes); how many orders expired."""
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()
    return celery.tasks[ORDERS_SWEEP].apply().get()


def age_heartbeat(app, task: str, seconds: float) -> None:
    """Make `task`'s last run `seconds` old."""
    with app.app_context():
        ran_at = utcnow() - timedelta(seconds=seconds)
        db.session.execute(update(SweepHeartbeat).where(SweepHeartbeat.task == task).values(ran_at=ran_at))
        db.session.commit()


def heartbeat(app, task: str) -> datetime | None:
    with app.app_context():
        ran_at = db.session.scalar(select(SweepHeartbeat.ran_at).where(SweepHeartbeat.task == task))
        db.session.commit()
        return ran_at
