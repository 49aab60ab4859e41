""" "Shoppers also bought": the books most often paid for in the same orders as a given book.

Only orders whose money came in and stayed count (`SOLD`: an order awaiting
payment, cancelled or refunded says nothing about what shoppers like), and
each order counts once however many copies it holds. One query, on
Postgres and SQLite alike. On Postgres it finds the book's lines and their
orders' other lines by the purchase_items indexes on product_id and
purchase_id; the orders' states come by primary key, or from one pass over
purchases when the book is in a large share of all orders (the planner's choice).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from blasto.core.extensions import db
from blasto.models import Product, Purchase, PurchaseItem
from blasto.models.purchase import SOLD
from blasto.shop.catalog import FOR_SALE

ALSO_BOUGHT_MAX = 4  # one row of cards on a wide screen


def also_bought(book_id: int, limit: int = ALSO_BOUGHT_MAX) -> list[Product]:
    """Up to `limit` other books for sale, by the number of paid orders they share with `book_id`, then by title."""
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
        select(Product)
        .join(shared, shared.c.product_id == Product.id)
        .where(FOR_SALE)
        .order_by(shared.c.orders.desc(), Product.title, Product.id)
        .limit(limit)
    )
    return list(db.session.scalars(statement))
