""" "Shoppers also bought": the books most often paid for in the same orders as a given book.

Only orders whose money came in and stayed count (`SOLD`: an order awaiting
payment, cancelled or refunded says nothing about what shoppers like), and
each order counts once however many copies it holds. On Postgres the ranking
finds the book's lines and their orders' other lines by the purchase_items
indexes; it adds up every paid order that holds the book, so it grows with
the sales. The book page is a third of the shop's traffic, so each process
keeps a book's ranking (ids only) for RANKING_SECONDS and reads the books
themselves fresh by primary key: stock and hidden books are always current,
the ranking a few minutes old at most (docs/BENCHMARKS.md, "Pages with covers").
"""

from __future__ import annotations

import time

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from blasto.core.extensions import db
from blasto.models import Product, Purchase, PurchaseItem
from blasto.models.purchase import SOLD
from blasto.shop.catalog import FOR_SALE

ALSO_BOUGHT_MAX = 4  # one row of cards on a wide screen
RANKED = 3 * ALSO_BOUGHT_MAX  # kept per book: enough that a few hidden ones leave the row full
RANKING_SECONDS = 600.0
KEPT_MAX = 10_000  # books whose ranking a process keeps; past it, it starts again (a few kB per hundred books)
_EXTENSION_KEY = "blasto.also_bought"


def also_bought(book_id: int, limit: int = ALSO_BOUGHT_MAX) -> list[Product]:
    """Up to `limit` other books for sale, by the number of paid orders they share with `book_id`, then by title."""
    ranked = _ranking(book_id)
    if not ranked:
        return []
    books = {book.id: book for book in db.session.scalars(select(Product).where(Product.id.in_(ranked), FOR_SALE))}
    return [books[book] for book in ranked if book in books][:limit]


def ranking(book_id: int) -> list[int]:
    """The ids of the books sharing the most paid orders with `book_id`, best first (hidden ones included)."""
    this, other = aliased(PurchaseItem), aliased(PurchaseItem)
    orders = func.count(other.purchase_id.distinct()).label("orders")
    shared = (
        select(other.product_id, orders)
        .select_from(this)
        .join(Purchase, Purchase.id == this.purchase_id)
        .join(other, other.purchase_id == this.purchase_id)
        .where(this.product_id == book_id, other.product_id != book_id, Purchase.status.in_(SOLD))
        .group_by(other.product_id)
        .subquery()
    )
    statement = (
        select(Product.id)
        .join(shared, shared.c.product_id == Product.id)
        .order_by(shared.c.orders.desc(), Product.title, Product.id)
        .limit(RANKED)
    )
    return list(db.session.scalars(statement))


def _ranking(book_id: int) -> list[int]:
    """`ranking(book_id)`, kept by this process (its app) for RANKING_SECONDS."""
    kept: dict[int, tuple[float, list[int]]] = current_app.extensions.setdefault(_EXTENSION_KEY, {})
    now = time.monotonic()
    hit = kept.get(book_id)
    if hit is not None and now - hit[0] < RANKING_SECONDS:
        return hit[1]
    ids = ranking(book_id)
    if len(kept) >= KEPT_MAX:
        kept.clear()
    kept[book_id] = (now, ids)
    return ids
