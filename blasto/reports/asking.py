"""Record a request for a report and queue its build.

At most one report per range is queued or running (a partial unique index),
so an admin double-clicking, or two admins asking at once, share one build:
the loser of the insert race gets the winner's report. The build is queued
after the commit; if the broker is down the report stays queued and the
clock's sweep queues it later.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from blasto.core.extensions import db
from blasto.core.logs import request_id_var
from blasto.core.task_queue import enqueue
from blasto.models import Report
from blasto.models.report import IN_FLIGHT
from blasto.reports.ranges import DateRange

BUILD_TASK = "blasto.reports.build"

log = logging.getLogger(__name__)


def ask_for_report(span: DateRange, user_id: int | None) -> tuple[Report, bool]:
    """The report for `span` (new, or the one already in flight) and whether it is new."""
    for _ in range(3):  # the one in flight can finish between our insert and our read
        report = Report(
            date_from=span.first, date_to=span.last, requested_by_id=user_id, request_id=request_id_var.get()
        )
        db.session.add(report)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            existing = in_flight(span)
            if existing is not None:
                return existing, False
            continue
        queue_build(report.id)
        return report, True
    raise RuntimeError(f"could not record a report for {span}")


def in_flight(span: DateRange) -> Report | None:
    return db.session.scalar(
        select(Report).where(Report.date_from == span.first, Report.date_to == span.last, Report.state.in_(IN_FLIGHT))
    )


def queue_build(report_id: int, countdown: float | None = None, celery=None) -> bool:
    """Publish a build; False (and a warning) if the broker refused it."""
    # Broker down: the sweep queues queued reports that waited too long.
    return enqueue(
        BUILD_TASK,
        [report_id],
        countdown=countdown,
        celery=celery,
        warning="report build not queued; the sweep will queue it",
        report_id=report_id,
    )
