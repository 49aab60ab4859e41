"""The front page's shelves: new books and best sellers, shown as they are now.

Two short indexed reads (the best sellers read the copies counted at payment,
blasto.shop.sales_counts), kept by each process until a change to what the
cards show (blasto.shop.shown_books): a sale or an admin's change shows on
the next request in every process. If the database cannot be read the page
still renders, without shelves, and the error is logged (the front page
should not be the first thing to fall); that answer is not kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from blasto.core.extensions import db
from blasto.models import Product
from blasto.shop.catalog import CARD_COLUMNS, FOR_SALE, read_cards
from blasto.shop.shown_books import kept

log = logging.getLogger("blasto.front_page")

SHELF_SIZE = 8

_NEWEST = select(*CARD_COLUMNS).where(FOR_SALE).order_by(Product.created_at.desc(), Product.id.desc()).limit(SHELF_SIZE)
_BEST_SELLING = (
    select(*CARD_COLUMNS)
    .where(FOR_SALE, Product.copies_sold > 0)  # copies paid for, not merely ordered
    .order_by(Product.copies_sold.desc(), Product.id)
    .limit(SHELF_SIZE)
)


@dataclass(frozen=True)
class Shelves:
    new_books: list[dict] = field(default_factory=list)
    best_sellers: list[dict] = field(default_factory=list)
    available: bool = True  # False when the catalogue could not be read


def shelves() -> Shelves:
    return kept("shelves", None, load_shelves, keep=lambda shelves: shelves.available)


def load_shelves() -> Shelves:
    try:
        new_books = read_cards(_NEWEST)
        best_sellers = read_cards(_BEST_SELLING)
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("front page shelves unavailable")
        return Shelves(available=False)
    return Shelves(new_books=new_books, best_sellers=best_sellers)
