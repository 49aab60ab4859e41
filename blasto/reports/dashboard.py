"""The admin home's figures: sales today and this week against the week before, and the work waiting.

Each figure is one indexed query (tests/functional/test_admin_dashboard.py reads
their plans on 100,000 orders). `now` is a parameter, so a test sets the clock
by passing it, and the page passes the request's time.

A sale is money that came in and stayed (`SOLD`: paid or shipped), counted at
the moment it was paid: its `paid` history row, or when it was placed for an
order with no such row (orders made paid, as the sample sales are).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, Select, and_, case, false, func, literal, or_, select, union_all

from blasto.core.extensions import db
from blasto.models import Product, Purchase, PurchaseEvent, Report
from blasto.models.purchase import AWAITING_PAYMENT, PAID, SOLD

LOW_STOCK = 3  # copies: a book for sale with fewer is worth restocking (a setting some day)
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Span:
    """[start, end) in UTC, and the days it covers (for the purchase list's day filters)."""

    start: datetime
    end: datetime

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(microseconds=1)).date() if self.end > self.start else self.start.date()

    def week_before(self) -> Span:
        return Span(self.start - WEEK, self.end - WEEK)


@dataclass(frozen=True)
class Sales:
    orders: int
    revenue_cents: int


@dataclass(frozen=True)
class Period:
    """Sales in a span so far, and in the same span a week earlier."""

    span: Span
    sales: Sales
    week_before: Sales


@dataclass(frozen=True)
class Dashboard:
    today: Period
    this_week: Period
    to_ship: int
    awaiting_payment: int
    low_stock: int
    last_report: Report | None


def today_span(now: datetime) -> Span:
    """From midnight UTC to now."""
    return Span(datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC), now)


def week_span(now: datetime) -> Span:
    """From Monday midnight UTC to now."""
    day = now.astimezone(UTC).date()
    return Span(datetime.combine(day - timedelta(days=day.weekday()), time.min, tzinfo=UTC), now)


def paid_at(start: datetime, end: datetime) -> Select:
    """(purchase id, total, paid at) of the orders paid in [start, end); the total is NULL when it is no sale.

    Two index range scans: `paid` history rows by time (ix_purchase_events_to_status_at),
    and sold orders by placing time (ix_purchases_status_created_at_id) that have no such row.
    The other table is read by a key lookup per row (scalar subqueries: a join, or a NOT EXISTS,
    which Postgres makes an anti-join, hashed the whole other table on 100,000 orders), so the
    cost follows the orders of the span, never the tables' size.
    """
    sold_total = (
        select(Purchase.total_cents)
        .where(Purchase.id == PurchaseEvent.purchase_id, Purchase.status.in_(SOLD))
        .scalar_subquery()
    )
    by_event = select(
        PurchaseEvent.purchase_id.label("id"), sold_total.label("total_cents"), PurchaseEvent.at.label("paid_at")
    ).where(PurchaseEvent.to_status == PAID, PurchaseEvent.at >= start, PurchaseEvent.at < end)
    a_paid_row = (
        select(literal(1))
        .where(PurchaseEvent.purchase_id == Purchase.id, PurchaseEvent.to_status == PAID)
        .limit(1)
        .scalar_subquery()
    )
    by_placing = select(Purchase.id, Purchase.total_cents, Purchase.created_at.label("paid_at")).where(
        Purchase.status.in_(SOLD), Purchase.created_at >= start, Purchase.created_at < end, a_paid_row.is_(None)
    )
    return union_all(by_event, by_placing)  # type: ignore[return-value]


def paid_between(start: datetime, end: datetime) -> Select:
    """Ids of the sales paid in [start, end): the purchase list's "paid from/to" filter."""
    paid = paid_at(start, end).subquery("paid")
    return select(paid.c.id).where(paid.c.total_cents.is_not(None))


def sales(spans: list[Span]) -> list[Sales]:
    """Orders and revenue in each span: one statement over the widest of them."""
    if not spans:
        return []
    paid = paid_at(min(s.start for s in spans), max(s.end for s in spans)).subquery("paid")

    def inside(span: Span) -> ColumnElement[bool]:
        return and_(paid.c.paid_at >= span.start, paid.c.paid_at < span.end)

    columns: list[ColumnElement[int]] = []
    for span in spans:
        columns.append(func.count(case((inside(span), paid.c.total_cents))))  # NULL totals (no sale) not counted
        columns.append(func.coalesce(func.sum(case((inside(span), paid.c.total_cents))), 0))
    row = db.session.execute(select(*columns).select_from(paid)).one()
    return [Sales(int(row[i]), int(row[i + 1])) for i in range(0, len(row), 2)]


def orders_in(status: str) -> int:
    """Orders in one state (an index-only count on ix_purchases_status_created_at_id)."""
    return db.session.scalar(select(func.count()).select_from(Purchase).where(Purchase.status == status)) or 0


LOW_ON_STOCK = and_(Product.hidden == false(), Product.stock < LOW_STOCK)


def low_stock() -> int:
    """Books for sale with fewer than LOW_STOCK copies (ix_products_stock)."""
    return db.session.scalar(select(func.count()).select_from(Product).where(LOW_ON_STOCK)) or 0


def last_report(now: datetime) -> Report | None:
    """The newest report not yet expired (the primary key, backwards)."""
    live = or_(Report.expires_at.is_(None), Report.expires_at > now)
    return db.session.scalars(select(Report).where(live).order_by(Report.id.desc()).limit(1)).first()


def dashboard(now: datetime) -> Dashboard:
    today, week = today_span(now), week_span(now)
    figures = sales([today, today.week_before(), week, week.week_before()])
    return Dashboard(
        today=Period(today, figures[0], figures[1]),
        this_week=Period(week, figures[2], figures[3]),
        to_ship=orders_in(PAID),
        awaiting_payment=orders_in(AWAITING_PAYMENT),
        low_stock=low_stock(),
        last_report=last_report(now),
    )
