"""Build a report: claim it, stream the sales into totals, store the results.

The sales are read in keyset-paginated chunks (a short query each, on the
index on purchases (created_at, id)), so no transaction stays open for the
whole build and the progress written between chunks is visible at once.
Progress is the share of sale lines read so far (up to READ_SHARE percent),
then the rendering steps; it is real work measured, never a timer.

Every write after the claim is fenced by the attempt number it claimed
with: if the sweep gave the build up (its worker looked dead) the row's
attempt moved on, the write matches nothing, and this build stops.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, func, select, tuple_, update

from blasto.core.extensions import db
from blasto.models import Product, Purchase, PurchaseItem, Report
from blasto.models.base import utcnow
from blasto.models.purchase import SOLD
from blasto.models.report import DONE, FAILED, QUEUED, RUNNING
from blasto.reports import rendering
from blasto.reports.asking import queue_build
from blasto.reports.ranges import DateRange

CHUNK_LINES = 2000
READ_SHARE = 85  # percent of the bar that reading the sales fills
HEARTBEAT_SECONDS = 2.0  # the longest gap between writes while reading, progress or not

log = logging.getLogger(__name__)


class Abandoned(Exception):
    """The row no longer belongs to this build (the sweep requeued or failed it)."""


@dataclass
class Totals:
    """Orders, units and revenue per day and per book, filled line by line."""

    days: dict[date, list[int]] = field(default_factory=dict)  # day -> [orders, units, revenue_cents]
    books: dict[int, list[int]] = field(default_factory=dict)  # product id -> [units, revenue_cents]
    orders: int = 0
    units: int = 0
    revenue_cents: int = 0
    _last_purchase: int | None = None

    def add(self, purchase_id: int, day: date, product_id: int, quantity: int, unit_price_cents: int) -> None:
        revenue = quantity * unit_price_cents
        per_day = self.days.setdefault(day, [0, 0, 0])
        if purchase_id != self._last_purchase:  # lines arrive grouped by purchase
            self._last_purchase = purchase_id
            self.orders += 1
            per_day[0] += 1
        per_day[1] += quantity
        per_day[2] += revenue
        per_book = self.books.setdefault(product_id, [0, 0])
        per_book[0] += quantity
        per_book[1] += revenue
        self.units += quantity
        self.revenue_cents += revenue


@dataclass
class Progress:
    """Writes progress and the heartbeat, fenced by the claimed attempt, at most once per percent."""

    report_id: int
    attempt: int
    shown: int = 0
    written_at: float = field(default_factory=time.monotonic)

    def show(self, percent: int, force: bool = False) -> None:
        percent = max(0, min(99, percent))
        stale = time.monotonic() - self.written_at >= HEARTBEAT_SECONDS
        if percent <= self.shown and not (force or stale):
            return
        written = cast(
            CursorResult[Any],
            db.session.execute(
                update(Report)
                .where(Report.id == self.report_id, Report.attempts == self.attempt, Report.state == RUNNING)
                .values(progress=max(percent, self.shown), heartbeat_at=utcnow())
            ),
        ).rowcount
        db.session.commit()
        if not written:
            raise Abandoned(self.report_id)
        self.shown, self.written_at = max(percent, self.shown), time.monotonic()


def claim(report_id: int) -> tuple[int, DateRange] | None:
    """Move a queued report to running; its new attempt number and range, or None if it is not queued."""
    row = db.session.execute(
        update(Report)
        .where(Report.id == report_id, Report.state == QUEUED)
        .values(
            state=RUNNING,
            attempts=Report.attempts + 1,
            progress=0,
            started_at=utcnow(),
            heartbeat_at=utcnow(),
            error=None,
        )
        .returning(Report.attempts, Report.date_from, Report.date_to)
    ).first()
    db.session.commit()
    return None if row is None else (row.attempts, DateRange(row.date_from, row.date_to))


def build(report_id: int) -> str:
    """Build a queued report; the state it ends in ("skipped" if it was not queued)."""
    claimed = claim(report_id)
    if claimed is None:
        log.info("report not queued; nothing to build", extra={"report_id": report_id})
        return "skipped"
    attempt, span = claimed
    progress = Progress(report_id, attempt)
    log.info("report build started", extra={"report_id": report_id, "attempt": attempt, "days": span.days})
    try:
        totals = read_sales(span, progress)
        results = render(span, totals, progress)
        finish(report_id, attempt, results)
    except Abandoned:
        log.warning(
            "report build abandoned: the sweep gave this attempt up", extra={"report_id": report_id, "attempt": attempt}
        )
        db.session.rollback()
        return "abandoned"
    except Exception as exc:
        db.session.rollback()
        return give_up_or_retry(report_id, attempt, exc)
    log.info("report built", extra={"report_id": report_id, "attempt": attempt, "orders": totals.orders})
    return DONE


def read_sales(span: DateRange, progress: Progress) -> Totals:
    start, end = span.bounds()
    # Sales are money that came in and stayed: paid or shipped orders, by the day they were placed.
    in_range = (Purchase.created_at >= start, Purchase.created_at < end, Purchase.status.in_(SOLD))
    lines = (
        select(func.count())
        .select_from(PurchaseItem)
        .join(Purchase, Purchase.id == PurchaseItem.purchase_id)
        .where(*in_range)
    )
    total = db.session.scalar(lines) or 0
    query = (
        select(
            Purchase.created_at,
            Purchase.id,
            PurchaseItem.id,
            PurchaseItem.product_id,
            PurchaseItem.quantity,
            PurchaseItem.unit_price_cents,
        )
        .join(PurchaseItem, PurchaseItem.purchase_id == Purchase.id)
        .where(*in_range)
        .order_by(Purchase.created_at, Purchase.id, PurchaseItem.id)
        .limit(CHUNK_LINES)
    )
    totals, done, after = Totals(), 0, None
    progress.show(1, force=True)
    while True:
        chunk = (
            query if after is None else query.where(tuple_(Purchase.created_at, Purchase.id, PurchaseItem.id) > after)
        )
        rows = db.session.execute(chunk).all()
        db.session.commit()  # no snapshot held between chunks
        for created_at, purchase_id, _, product_id, quantity, unit_price_cents in rows:
            totals.add(purchase_id, created_at.astimezone(UTC).date(), product_id, quantity, unit_price_cents)
        done += len(rows)
        if len(rows) < CHUNK_LINES:
            break
        after = tuple(rows[-1][:3])
        progress.show(1 + (READ_SHARE - 1) * done // max(total, done, 1))
    progress.show(READ_SHARE)
    return totals


def render(span: DateRange, totals: Totals, progress: Progress) -> dict:
    """CSVs, chart and summary (the plotting library is imported inside rendering, by the worker only)."""
    books = book_names(totals.books)
    days_csv = rendering.days_csv(span, totals)
    books_csv = rendering.books_csv(totals, books)
    progress.show(READ_SHARE + 3)
    chart = rendering.chart_png(span, totals, books)
    progress.show(99)
    return {
        "summary": rendering.summary(span, totals, books),
        "days_csv": days_csv,
        "books_csv": books_csv,
        "chart_png": chart,
    }


def book_names(product_ids) -> dict[int, tuple[str, str]]:
    ids = list(product_ids)
    names: dict[int, tuple[str, str]] = {}
    for start in range(0, len(ids), 1000):
        rows = db.session.execute(
            select(Product.id, Product.title, Product.author).where(Product.id.in_(ids[start : start + 1000]))
        )
        names.update({row.id: (row.title, row.author) for row in rows})
    return names


def finish(report_id: int, attempt: int, results: dict) -> None:
    now = utcnow()
    written = cast(
        CursorResult[Any],
        db.session.execute(
            update(Report)
            .where(Report.id == report_id, Report.attempts == attempt, Report.state == RUNNING)
            .values(state=DONE, progress=100, finished_at=now, heartbeat_at=now, expires_at=now + ttl(), **results)
        ),
    ).rowcount
    db.session.commit()
    if not written:
        raise Abandoned(report_id)


def give_up_or_retry(report_id: int, attempt: int, exc: Exception) -> str:
    """An error in the build: queue it again while attempts remain, else end it failed with the reason."""
    retry = attempt < current_app.config["REPORT_MAX_ATTEMPTS"]
    reason = f"{type(exc).__name__}: {exc}"[:500]
    log.error(
        "report build failed", exc_info=exc, extra={"report_id": report_id, "attempt": attempt, "will_retry": retry}
    )
    now = utcnow()
    values = (
        dict(state=QUEUED, progress=0, heartbeat_at=now, error=reason)
        if retry
        else dict(
            state=FAILED,
            finished_at=now,
            heartbeat_at=now,
            expires_at=now + ttl(),
            error=f"The build failed {attempt} times; the last error was {reason}",
        )
    )
    try:
        written = cast(
            CursorResult[Any],
            db.session.execute(
                update(Report)
                .where(Report.id == report_id, Report.attempts == attempt, Report.state == RUNNING)
                .values(**values)
            ),
        ).rowcount
        db.session.commit()
    except Exception:  # the database itself is down: the row stays running and the sweep finds it
        db.session.rollback()
        log.warning("report state not recorded; the sweep will handle it", extra={"report_id": report_id})
        return RUNNING
    if not written:
        return "abandoned"
    if retry:
        queue_build(report_id, countdown=min(5 * attempt, 60))
        return QUEUED
    return FAILED


def ttl() -> timedelta:
    return timedelta(seconds=current_app.config["REPORT_TTL_SECONDS"])
