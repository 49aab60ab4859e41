"""Catalogue queries shared by the pages, the API and the admin.

`FOR_SALE` is the one definition of what shoppers may see and buy (a book
not hidden); every shopper-facing read of products goes through it, here or
in the checkout's UPDATE. The admin lists every book (`for_sale=False`).
"""

from __future__ import annotations

import re

from sqlalchemy import Select, false, func, or_, select

from blasto.core.extensions import db
from blasto.models import Product

MAX_SEARCH_LENGTH = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # Postgres refuses NUL in a parameter; none belong in a search

FOR_SALE = Product.hidden == false()


def product_query(search: str | None = None, for_sale: bool = True) -> Select:
    """Products matching a title/author search (case-insensitive), in a stable order."""
    query = select(Product).where(FOR_SALE) if for_sale else select(Product)
    terms = clean_search(search)
    if terms:
        pattern = f"%{escape_like(terms.lower())}%"
        query = query.where(
            or_(
                func.lower(Product.title).like(pattern, escape="\\"),
                func.lower(Product.author).like(pattern, escape="\\"),
            )
        )
    return query.order_by(Product.title, Product.id)


def clean_search(text: str | None) -> str:
    """A search as typed, without control characters, trimmed to the longest we search for."""
    return _CONTROL.sub(" ", text or "").strip()[:MAX_SEARCH_LENGTH]


def catalog_page(search: str | None, page: int, per_page: int, for_sale: bool = True) -> tuple[list[Product], int]:
    """One page of `product_query(search)` and how many books match in all."""
    query = product_query(search, for_sale)
    total = db.session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    return list(db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()), total


def product_for_sale(product_id: int) -> Product | None:
    """The book, or None when it does not exist or is hidden: to shoppers, the same thing."""
    return db.session.scalar(select(Product).where(Product.id == product_id, FOR_SALE))


def escape_like(text: str) -> str:
    """`text` matched literally inside a LIKE pattern with `escape="\\"`."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def books_for_sale(product_ids) -> set[int]:
    """Which of these books shoppers can still see (a past purchase may name a hidden one)."""
    ids = set(product_ids)
    if not ids:
        return set()
    return set(db.session.scalars(select(Product.id).where(Product.id.in_(ids), FOR_SALE)))
