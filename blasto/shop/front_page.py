"""The front page's shelves: new books and best sellers, cached in-process.

`/home` is the busiest page and is benchmarked against bare Flask, so its
data must cost almost nothing: two small Core queries return plain dicts,
and the result is kept per app for a few seconds (`time.monotonic()`), so
most requests only render the template. A shelf a few seconds stale is fine.
If the database cannot be read the page still renders, without shelves, and
the error is logged (the front page should not be the first thing to fall).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from blasto.core.extensions import db
from blasto.models import Product, Purchase, PurchaseItem
from blasto.models.purchase import SOLD
from blasto.shop.catalog import FOR_SALE

log = logging.getLogger("blasto.front_page")

SHELF_SIZE = 8
TTL_SECONDS = 30.0  # override with app.config["FRONT_PAGE_TTL_SECONDS"]
FAILURE_TTL_SECONDS = 5.0  # retry a failed read sooner, but not on every request
EXTENSION_KEY = "blasto.front_page"

_COLUMNS = (Product.id, Product.title, Product.author, Product.price_cents, Product.stock, Product.cover_digest)
_NEWEST = select(*_COLUMNS).where(FOR_SALE).order_by(Product.created_at.desc(), Product.id.desc()).limit(SHELF_SIZE)
_SOLD = func.sum(PurchaseItem.quantity).label("sold")
_BEST_SELLING = (
    select(*_COLUMNS, _SOLD)
    .join(PurchaseItem, PurchaseItem.product_id == Product.id)
    .join(Purchase, Purchase.id == PurchaseItem.purchase_id)
    .where(FOR_SALE, Purchase.status.in_(SOLD))  # copies paid for, not merely ordered
    .group_by(*_COLUMNS)
    .order_by(_SOLD.desc(), Product.id)
    .limit(SHELF_SIZE)
)


@dataclass(frozen=True)
class Shelves:
    new_books: list[dict] = field(default_factory=list)
    best_sellers: list[dict] = field(default_factory=list)
    available: bool = True  # False when the catalogue could not be read


def shelves(app: Flask | None = None) -> Shelves:
    """The cached shelves, reloaded when older than the TTL."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    now = time.monotonic()
    cached = app.extensions.get(EXTENSION_KEY)
    if cached is not None and now < cached[0]:
        return cached[1]
    data = load_shelves()
    ttl = float(app.config.get("FRONT_PAGE_TTL_SECONDS", TTL_SECONDS)) if data.available else FAILURE_TTL_SECONDS
    app.extensions[EXTENSION_KEY] = (now + ttl, data)
    return data


def forget(app: Flask) -> None:
    """Drop this process's cached shelves (tests, a loaded catalogue, a book hidden or edited).

    Other processes keep theirs until their TTL runs out: a hidden book can
    linger on their shelves that long, but its page and cart already refuse it.
    """
    app.extensions.pop(EXTENSION_KEY, None)


def load_shelves() -> Shelves:
    try:
        new_books = [_book(row) for row in db.session.execute(_NEWEST)]
        best_sellers = [{**_book(row), "sold": int(row.sold)} for row in db.session.execute(_BEST_SELLING)]
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("front page shelves unavailable")
        return Shelves(available=False)
    return Shelves(new_books=new_books, best_sellers=best_sellers)


def _book(row) -> dict:
    return {
        "id": row.id,
        "title": row.title,
        "author": row.author,
        "price_cents": row.price_cents,
        "stock": row.stock,
        "cover_digest": row.cover_digest,  # which cover the card shows (blasto.shop.covers.cover_key)
    }
