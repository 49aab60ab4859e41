"""What a report looks like from outside: its status document and its files.

The admin pages and the API serve the same status and the same files; only
the addresses of the files differ, so callers pass a function that builds them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Response
from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import Report
from blasto.models.base import utcnow
from blasto.models.report import DONE


@dataclass(frozen=True)
class ResultFile:
    column: str
    mimetype: str
    description: str


FILES = {
    "chart.png": ResultFile("chart_png", "image/png", "The chart: revenue per day and the top books"),
    "days.csv": ResultFile("days_csv", "text/csv", "Orders, units and revenue for every day of the range"),
    "books.csv": ResultFile("books_csv", "text/csv", "Units and revenue per book, best seller first"),
}
LINK_NAMES = {"chart.png": "chart", "days.csv": "days_csv", "books.csv": "books_csv"}


def live_report(report_id: int) -> Report | None:
    """The report, unless it is unknown or expired (an expired one awaits the sweep's delete)."""
    report = db.session.get(Report, report_id)
    if report is None or (report.expires_at is not None and report.expires_at <= utcnow()):
        return None
    return report


def status(report: Report, file_url: Callable[[str], str | None]) -> dict:
    done = report.state == DONE
    return {
        "id": report.id,
        "state": report.state,
        "progress": report.progress,
        "from": report.date_from.isoformat(),
        "to": report.date_to.isoformat(),
        "attempts": report.attempts,
        "error": report.error if report.state != DONE else None,
        "created_at": report.created_at.isoformat(),
        "started_at": _iso(report.started_at),
        "finished_at": _iso(report.finished_at),
        "expires_at": _iso(report.expires_at),
        "summary": report.summary if done else None,
        "files": {LINK_NAMES[name]: file_url(name) for name in FILES} if done else {},
    }


def file_response(report_id: int, name: str) -> Response | None:
    """The file's response (a download for CSVs), or None if there is no such file yet."""
    spec = FILES.get(name)
    if spec is None:
        return None
    column = getattr(Report, spec.column)
    row = db.session.execute(select(Report.state, Report.expires_at, column).where(Report.id == report_id)).first()
    if (
        row is None
        or row.state != DONE
        or row[2] is None
        or (row.expires_at is not None and row.expires_at <= utcnow())
    ):
        return None
    response = Response(row[2], mimetype=spec.mimetype)
    if spec.mimetype == "text/csv":
        response.headers["Content-Disposition"] = f'attachment; filename="blasto-report-{report_id}-{name}"'
    response.headers["Cache-Control"] = (
        "private, max-age=3600"  # nosniff and the CSP come from blasto.web.security_headers
    )
    return response


def _iso(value):
    return value.isoformat() if value is not None else None
