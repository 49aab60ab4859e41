"""Sales reports: asked for by an admin, built by the worker, kept for a while.

The row is the report's whole life: its state and progress for the pages and
the API to poll, and its results (CSVs and a PNG chart) once done. Results live
here, not on a disk, because web and worker run on different dynos. Blobs are
deferred so that polling the progress never loads them.

`attempts` fences each build: a build writes only while the row still carries
its own attempt number, so a build the sweep gave up on cannot overwrite a
newer one. At most one report per date range is queued or running at a time
(a partial unique index), so asking twice at once gives the same report.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from blasto.core.extensions import Model
from blasto.models.base import UTCDateTime, utcnow

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATES = (QUEUED, RUNNING, DONE, FAILED)
IN_FLIGHT = (QUEUED, RUNNING)
_IN_FLIGHT_SQL = text(f"state IN {IN_FLIGHT}")


class Report(Model):
    __tablename__ = "reports"
    __table_args__ = (
        CheckConstraint(f"state IN {STATES}", name="state_known"),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress_is_percent"),
        CheckConstraint("date_from <= date_to", name="range_not_inverted"),
        Index(
            "uq_reports_range_in_flight",
            "date_from",
            "date_to",
            unique=True,
            postgresql_where=_IN_FLIGHT_SQL,
            sqlite_where=_IN_FLIGHT_SQL,
        ),
        Index("ix_reports_state_heartbeat", "state", "heartbeat_at"),
        Index("ix_reports_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    date_from: Mapped[date] = mapped_column(Date)
    date_to: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20), default=QUEUED)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when a build claims the row and at each progress step; the sweep
    # treats a running report with an old heartbeat as abandoned.
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    summary: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    days_csv: Mapped[str | None] = deferred(mapped_column(Text, nullable=True))
    books_csv: Mapped[str | None] = deferred(mapped_column(Text, nullable=True))
    chart_png: Mapped[bytes | None] = deferred(mapped_column(LargeBinary, nullable=True))

    @property
    def in_flight(self) -> bool:
        return self.state in IN_FLIGHT
