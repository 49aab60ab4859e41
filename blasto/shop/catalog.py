"""Catalogue queries shared by the pages and the API."""
from __future__ import annotations

from sqlalchemy import Select, func, or_, select

from blasto.extensions import db
from blasto.models import Product

MAX_SEARCH_LENGTH = 100


def product_query(search: str | None = None) -> Select:
    """Products matching a title/author search (case-insensitive), in a stable order."""
    query = select(Product)
    terms = (search or "").strip()[:MAX_SEARCH_LENGTH]
    if terms:
        pattern = f"%{_escape_like(terms.lower())}%"
        query = query.where(or_(func.lower(Product.title).like(pattern, escape="\\"), func.lower(Product.author).like(pattern, escape="\\")))
    return query.order_by(Product.title, Product.id)


def catalog_page(search: str | None, page: int, per_page: int) -> tuple[list[Product], int]:
    """One page of `product_query(search)` and how many books match in all."""
    query = product_query(search)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all(), total


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
