"""Copies sold per book and paid orders shared per pair of books, kept as orders are paid and refunded.

The front page's best sellers, the catalogue's best-selling sort and the book
page's "shoppers also bought" read these counts by key. Adding up every paid
order on each read instead grew with the sales, on the shop's busiest pages
(docs/BENCHMARKS.md, the 18:08 UTC run of 2026-12-06).

An order counts while it is paid or shipped (`SOLD`): blasto.shop.orders
calls `count_order` in the transaction of every move into or out of those
states, so the counts change with the status, or not at all. `recount`
counts everything again from the orders: after a bulk load (`flask seed
--sales`, the bench's history) or to repair counts an older release missed
(`flask recount-sales`).
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from blasto.core.extensions import db
from blasto.models import BookPair, Product, Purchase, PurchaseItem
from blasto.models.purchase import SOLD


def copies_by_book(purchase_id: int) -> list[tuple[int, int]]:
    """The order's (book, copies), in product-id order: the order in which checkout locks books' rows."""
    return [
        (product_id, copies)
        for product_id, copies in db.session.execute(
            select(PurchaseItem.product_id, func.sum(PurchaseItem.quantity))
            .where(PurchaseItem.purchase_id == purchase_id)
            .group_by(PurchaseItem.product_id)
            .order_by(PurchaseItem.product_id)
        )
    ]


def count_order(purchase_id: int, sign: int) -> None:
    """Add (`sign` 1) or take back (-1) the order's copies and pairs, uncommitted.

    Rows are changed in product-id order, as checkout takes stock, so two
    payments and a checkout sharing books cannot deadlock.
    """
    lines = copies_by_book(purchase_id)
    for product_id, copies in lines:
        db.session.execute(
            update(Product)
            .where(Product.id == product_id)
            .values(copies_sold=Product.copies_sold + sign * copies)
            .execution_options(synchronize_session=False)
        )
    books = [product_id for product_id, _ in lines]
    pairs = [{"product_id": one, "other_id": other, "orders": sign} for one in books for other in books if one != other]
    if pairs:
        dialect_insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
        statement = dialect_insert(BookPair)
        db.session.execute(
            statement.on_conflict_do_update(
                index_elements=[BookPair.product_id, BookPair.other_id],
                set_={"orders": BookPair.orders + statement.excluded.orders},
            ),
            pairs,
        )


def recount() -> None:
    """Count every book's copies and pairs again from the paid and shipped orders, uncommitted."""
    copies = (
        select(func.coalesce(func.sum(PurchaseItem.quantity), 0))
        .join(Purchase, Purchase.id == PurchaseItem.purchase_id)
        .where(PurchaseItem.product_id == Product.id, Purchase.status.in_(SOLD))
        .scalar_subquery()
    )
    db.session.execute(update(Product).values(copies_sold=copies).execution_options(synchronize_session=False))
    this, other = aliased(PurchaseItem), aliased(PurchaseItem)
    shared = (
        select(this.product_id, other.product_id, func.count(this.purchase_id.distinct()))
        .join(Purchase, Purchase.id == this.purchase_id)
        .join(other, (other.purchase_id == this.purchase_id) & (other.product_id != this.product_id))
        .where(Purchase.status.in_(SOLD))
        .group_by(this.product_id, other.product_id)
    )
    db.session.execute(delete(BookPair))
    db.session.execute(insert(BookPair).from_select(["product_id", "other_id", "orders"], shared))


@click.command("recount-sales")
@with_appcontext
def recount_sales_command() -> None:
    """Count the copies sold and the books bought together again from the paid orders."""
    recount()
    db.session.commit()
    click.echo("Sales counted again from the paid and shipped orders.")
