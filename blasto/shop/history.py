"""A shopper's purchases as plain dicts: the pages and the API read them here.

These are hot paths (the API's purchase list is benchmarked), so each read is
one round trip of plain Core SQL: the page of purchases (a CTE) joined to its
lines and their titles, with the user's total count as an uncorrelated
subquery that Postgres evaluates once. No ORM objects, no query per purchase.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Select, bindparam, func, select
from sqlalchemy.engine import Connection

from blasto.core.extensions import db
from blasto.models import Product, Purchase, PurchaseItem

_purchases, _lines, _products = Purchase.__table__, PurchaseItem.__table__, Product.__table__
_USER: BindParameter[int] = bindparam("user_id")
# Where and how an order ships (empty on orders placed before shipping): see `shipping_of`.
SHIPPING_COLUMNS = (
    "shipping_option",
    "shipping_cents",
    "ship_name",
    "ship_line1",
    "ship_line2",
    "ship_city",
    "ship_postal_code",
    "ship_country",
)


def _count(user: ColumnElement) -> ColumnElement:
    return (
        select(func.count())
        .select_from(_purchases)
        .where(_purchases.c.user_id == user)
        .scalar_subquery()
        .label("total_items")
    )


def _header(user: ColumnElement, *conditions, paged: bool) -> Select:
    header = select(
        _purchases.c.id,
        _purchases.c.status,
        _purchases.c.created_at,
        _purchases.c.total_cents,
        _purchases.c.payment_method,
        _purchases.c.carrier,
        _purchases.c.tracking_number,
        *(_purchases.c[name] for name in SHIPPING_COLUMNS),
    ).where(_purchases.c.user_id == user, *conditions)
    if paged:  # newest first; (user_id, created_at, id) is indexed in this order
        header = (
            header.order_by(_purchases.c.created_at.desc(), _purchases.c.id.desc())
            .limit(bindparam("limit"))
            .offset(bindparam("offset"))
        )
    return header


def _statement(header: Select, *extra) -> Select:
    """A header CTE joined to its lines and titles, in page order."""
    page = header.cte("page")
    columns = [
        page.c.id,
        page.c.status,
        page.c.created_at,
        page.c.total_cents,
        _lines.c.product_id,
        _products.c.title,
        _lines.c.quantity,
        _lines.c.unit_price_cents,
        page.c.payment_method,
        page.c.carrier,
        page.c.tracking_number,
        *(page.c[name] for name in SHIPPING_COLUMNS),
        *extra,
    ]
    joined = page.join(_lines, _lines.c.purchase_id == page.c.id).join(_products, _products.c.id == _lines.c.product_id)
    return select(*columns).select_from(joined).order_by(page.c.created_at.desc(), page.c.id.desc(), _lines.c.id)


_PAGE = _statement(_header(_USER, paged=True), _count(_USER))
_ONE = _statement(_header(_USER, _purchases.c.id == bindparam("purchase_id"), paged=False))
_COUNT = select(_count(_USER))


def purchase_page(
    user_id: int, page: int, per_page: int, connection: Connection | None = None
) -> tuple[list[dict], int]:
    """The user's purchases, newest first: (one page with lines, total count)."""
    connection = connection or db.session.connection()
    rows = connection.execute(_PAGE, _page_params(page, per_page, user_id=user_id)).all()
    if rows:
        return _grouped(rows), rows[0].total_items
    # Past the last page (or no purchases): no row carried the count.
    return [], connection.execute(_COUNT, {"user_id": user_id}).scalar_one() if page > 1 else 0


def purchase_detail(user_id: int, purchase_id: int, connection: Connection | None = None) -> dict | None:
    """One purchase with its lines, only if it is the user's own."""
    rows = (connection or db.session.connection()).execute(_ONE, {"purchase_id": purchase_id, "user_id": user_id}).all()
    return _grouped(rows)[0] if rows else None


def _page_params(page: int, per_page: int, **params) -> dict:
    return {"limit": per_page, "offset": (page - 1) * per_page, **params}


def _grouped(rows) -> list[dict]:
    """One dict per purchase from its line rows (already in order); the first nineteen columns of every statement above."""
    purchases: list[dict] = []
    current_id = None
    items: list[dict] = []
    for row in rows:
        purchase_id, status, created_at, total_cents, product_id, title, quantity, unit_price_cents = row[:8]
        if purchase_id != current_id:
            current_id, items = purchase_id, []
            payment_method, carrier, tracking_number = row[8:11]
            shipping = dict(zip(SHIPPING_COLUMNS, row[11:19], strict=True))
            purchases.append(
                {
                    "id": purchase_id,
                    "status": status,
                    "created_at": created_at,
                    "total_cents": total_cents,
                    "payment_method": payment_method,
                    "carrier": carrier,
                    "tracking_number": tracking_number,
                    "items": items,
                    **shipping_of(shipping),
                }
            )
        items.append(
            {
                "product_id": product_id,
                "title": title,
                "quantity": quantity,
                "unit_price_cents": unit_price_cents,
                "line_total_cents": unit_price_cents * quantity,
            }
        )
    return purchases


def shipping_of(row: Mapping[Any, Any]) -> dict:
    """The order's `shipping` (option, price) and `address` (None before shipping existed), and its lines' sum."""
    cents = row["shipping_cents"] or 0
    address = (
        {
            "name": row["ship_name"],
            "line1": row["ship_line1"],
            "line2": row["ship_line2"] or "",
            "city": row["ship_city"],
            "postal_code": row["ship_postal_code"],
            "country": row["ship_country"],
        }
        if row["ship_name"] is not None
        else None
    )
    return {"shipping": {"option": row["shipping_option"], "cents": cents}, "address": address}
