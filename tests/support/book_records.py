"""Reading what admins' book edits and low-stock alerts left in the database, and selling at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import BookChange, OutboxMessage
from blasto.models.outbox import LOW_STOCK
from blasto.shop.checkout import InsufficientStock, place_order
from tests.support.factories import shipping

SALE_DEADLINE_SECONDS = 30


def changes_of(app, product_id: int) -> list[dict]:
    """The book's recorded changes, oldest first."""
    with app.app_context():
        rows = db.session.scalars(
            select(BookChange).where(BookChange.product_id == product_id).order_by(BookChange.id)
        ).all()
        return [
            {
                "field": row.field,
                "old": row.old_value,
                "new": row.new_value,
                "user_id": row.user_id,
                "request_id": row.request_id,
            }
            for row in rows
        ]


def low_stock_alerts(app, product_id: int) -> list[tuple[str, str]]:
    """(key, recipient) of every low-stock e-mail owed about the book, in the order owed."""
    with app.app_context():
        rows = db.session.execute(
            select(OutboxMessage.key, OutboxMessage.recipient)
            .where(OutboxMessage.kind == LOW_STOCK, OutboxMessage.product_id == product_id)
            .order_by(OutboxMessage.id)
        ).all()
        return [(key, recipient) for key, recipient in rows]


def sell(app, user_id: int, book: int, quantity: int = 1, idempotency_key: str | None = None) -> int:
    with app.app_context():
        purchase, _ = place_order(user_id, {book: quantity}, shipping(), idempotency_key)
        return purchase.id


def sell_at_once(app, user_ids: list[int], book: int, quantity: int = 1) -> list[int | None]:
    """Each user buys `quantity` copies at the same moment, one thread each: purchase ids (None: out of stock)."""
    barrier = threading.Barrier(len(user_ids), timeout=SALE_DEADLINE_SECONDS)

    def buy(user_id: int) -> int | None:
        with app.app_context():
            barrier.wait()
            try:
                purchase, _ = place_order(user_id, {book: quantity}, shipping())
            except InsufficientStock:
                return None
            return purchase.id

    with ThreadPoolExecutor(len(user_ids)) as pool:
        return list(pool.map(buy, user_ids, timeout=SALE_DEADLINE_SECONDS))
