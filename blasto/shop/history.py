"""A shopper's purchases as plain dicts: the pages and the API read them here.

These are hot paths (the API's purchase list is benchmarked), so they are
Core queries with fixed shapes: one for a page of purchases (with the total
count as a window column) and one for all of that page's lines. No ORM
objects, no query per purchase.
"""
from __future__ import annotations

from sqlalchemy import bindparam, func, select

from blasto.extensions import db
from blasto.models import Product, Purchase, PurchaseItem

_HEADER_COLUMNS = (Purchase.id, Purchase.status, Purchase.created_at, Purchase.total_cents)

_PAGE = (
    select(*_HEADER_COLUMNS, func.count().over().label("total_items"))
    .where(Purchase.user_id == bindparam("user_id"))
    .order_by(Purchase.created_at.desc(), Purchase.id.desc())
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_COUNT = select(func.count()).select_from(Purchase).where(Purchase.user_id == bindparam("user_id"))
_ONE = select(*_HEADER_COLUMNS).where(Purchase.id == bindparam("purchase_id"), Purchase.user_id == bindparam("user_id"))
_LINES = (
    select(PurchaseItem.purchase_id, PurchaseItem.product_id, Product.title, PurchaseItem.quantity, PurchaseItem.unit_price_cents)
    .join(Product, Product.id == PurchaseItem.product_id)
    .where(PurchaseItem.purchase_id.in_(bindparam("ids", expanding=True)))
    .order_by(PurchaseItem.purchase_id, PurchaseItem.id)
)


def purchase_page(user_id: int, page: int, per_page: int) -> tuple[list[dict], int]:
    """The user's purchases, newest first: (one page with lines, total count)."""
    rows = db.session.execute(_PAGE, {"user_id": user_id, "limit": per_page, "offset": (page - 1) * per_page}).all()
    if rows:
        total = rows[0].total_items
    else:  # past the last page, or none at all: the window had no row to ride on
        total = db.session.execute(_COUNT, {"user_id": user_id}).scalar_one() if page > 1 else 0
    return _with_lines(rows), total


def purchase_detail(user_id: int, purchase_id: int) -> dict | None:
    """One purchase with its lines, only if it is the user's own."""
    rows = db.session.execute(_ONE, {"purchase_id": purchase_id, "user_id": user_id}).all()
    return _with_lines(rows)[0] if rows else None


def _with_lines(rows) -> list[dict]:
    purchases = [
        {"id": row.id, "status": row.status, "created_at": row.created_at, "total_cents": row.total_cents, "items": []}
        for row in rows
    ]
    if purchases:
        by_id = {purchase["id"]: purchase["items"] for purchase in purchases}
        for line in db.session.execute(_LINES, {"ids": list(by_id)}):
            by_id[line.purchase_id].append(
                {
                    "product_id": line.product_id,
                    "title": line.title,
                    "quantity": line.quantity,
                    "unit_price_cents": line.unit_price_cents,
                    "line_total_cents": line.unit_price_cents * line.quantity,
                }
            )
    return purchases
