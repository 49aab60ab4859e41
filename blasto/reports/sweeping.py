"""Find report builds that stopped and decide their fate; delete expired reports.

A running report whose heartbeat is older than the stall limit lost its
worker: it goes back to the queue while it has attempts left, else it ends
failed. A queued report that waited that long lost its queue message (the
broker was down when it was asked for): it is queued again. Each statement
is one UPDATE or DELETE with its condition, so two sweeps cannot both act
on the same row.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, update

from blasto.core.extensions import db
from blasto.models import Report
from blasto.models.base import utcnow
from blasto.models.report import FAILED, QUEUED, RUNNING


def sweep_reports(stall_seconds: float, max_attempts: int) -> dict[str, list[int]]:
    now = utcnow()
    cutoff = now - timedelta(seconds=stall_seconds)
    stalled = (Report.state == RUNNING, Report.heartbeat_at < cutoff)
    requeued = _ids(
        update(Report)
        .where(*stalled, Report.attempts < max_attempts)
        .values(state=QUEUED, progress=0, heartbeat_at=now)
    )
    failed = _ids(
        update(Report)
        .where(*stalled, Report.attempts >= max_attempts)
        .values(
            state=FAILED,
            finished_at=now,
            heartbeat_at=now,
            expires_at=now + timedelta(seconds=current_app.config["REPORT_TTL_SECONDS"]),
            error=f"The worker stopped while building this report {max_attempts} times; ask for it again.",
        )
    )
    # Stamped so the next sweep waits another stall period before queueing it again.
    lost = _ids(update(Report).where(Report.state == QUEUED, Report.heartbeat_at < cutoff).values(heartbeat_at=now))
    expired = _ids(delete(Report).where(Report.expires_at < now))
    db.session.commit()
    return {"requeued": requeued + lost, "failed": failed, "expired": expired}


def _ids(statement) -> list[int]:
    return list(db.session.scalars(statement.returning(Report.id)))
