"""An admin's changes to a book, each written with its record in book_changes (who, when, from, to).

The change and its record commit together or not at all, so the "Changes"
list on the admin's book page is the book's true story. Stock is the one
column shoppers change concurrently, so it is never written from a value read
earlier (see blasto.admin.books): a restock adds in SQL, and a corrected count
is written only over the count the admin saw. Every function here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from blasto.core.extensions import db
from blasto.core.logs import request_id_var
from blasto.models import BookChange, BookCover, Product, User
from blasto.models.product import STOCK_MAX
from blasto.shop.covers import store_cover
from blasto.shop.money import format_cents
from blasto.shop.restock_wishes import announce_restock

# The columns an admin edits through the book form, in the form's order.
EDITABLE = (
    "title",
    "author",
    "description",
    "genre",
    "format",
    "publisher",
    "year_published",
    "pages",
    "isbn13",
    "price_cents",
    "stock",
    "low_stock_threshold",
)
HIDDEN, COVER = "hidden", "cover"
CHANGES_SHOWN = 20


class NoSuchBook(Exception):
    def __init__(self, book_id: int):
        self.book_id = book_id
        super().__init__(f"There is no book #{book_id}.")


class StockMoved(Exception):
    """The stock is no longer the count the admin saw (a sale or a restock): nothing was written."""

    def __init__(self, current: int):
        self.current = current
        super().__init__(f"The stock changed to {current:,}.")


@dataclass(frozen=True)
class Change:
    at: datetime
    field: str
    old: str | None
    new: str | None
    by: str | None  # the admin's name; None once their account is gone

    @property
    def summary(self) -> str:
        """In plain words, for the admin's page: "price $12.00 → $14.50", "hidden", "new cover"."""
        if self.field == HIDDEN:
            return "hidden from shoppers" if self.new == "true" else "put back on sale"
        if self.field == COVER:
            return "new cover uploaded"
        if self.field == "description":
            return "description rewritten"
        label = _LABELS.get(self.field, self.field.replace("_", " "))
        return f"{label} {_shown(self.field, self.old)} → {_shown(self.field, self.new)}"


_LABELS = {"price_cents": "price", "year_published": "year", "isbn13": "ISBN", "low_stock_threshold": "low-stock alert"}
_NUMBERS = ("stock", "pages", "low_stock_threshold")


def _shown(field: str, value: str | None) -> str:
    if value is None or value == "":
        return "none"
    if field == "price_cents":
        return format_cents(int(value))
    if field in _NUMBERS:
        return f"{int(value):,}"
    if field in ("title", "author", "publisher"):
        return f"“{value}”"
    return value


def edit(book_id: int, values: dict, admin_id: int, stock_seen: int | None = None) -> list[str]:
    """Write the form's `values` (columns of EDITABLE); returns the fields that changed.

    A "stock" among them is written only if the stock is still `stock_seen`;
    StockMoved otherwise, with nothing written.
    """
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable here: {sorted(unknown)}")
    try:
        columns = [getattr(Product, name) for name in values if name != "stock"]
        before = db.session.execute(
            select(Product.stock, *columns).where(Product.id == book_id).with_for_update()
        ).first()
        if before is None:
            raise NoSuchBook(book_id)
        if "stock" in values and before.stock != stock_seen:
            raise StockMoved(before.stock)
        old = dict(before._mapping)
        changed = {name: values[name] for name in EDITABLE if name in values and old[name] != values[name]}
        if changed:
            statement = update(Product).where(Product.id == book_id)
            if "stock" in changed:  # SQLite locks no row: the count seen is the UPDATE's condition too
                statement = statement.where(Product.stock == stock_seen)
            written = db.session.execute(
                statement.values(**changed).returning(Product.id).execution_options(synchronize_session=False)
            ).first()
            if written is None:
                raise StockMoved(db.session.scalar(select(Product.stock).where(Product.id == book_id)) or 0)
            for name, value in changed.items():
                _record(book_id, admin_id, name, old[name], value)
            if "stock" in changed:
                announce_restock([book_id])  # back from sold out: its waiting shoppers' e-mails, with the change
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return list(changed)


def restock(book_id: int, copies: int, admin_id: int) -> int | None:
    """Add `copies` to whatever the stock is now; the new stock, or None (nothing written) past STOCK_MAX."""
    try:
        stock = db.session.execute(
            update(Product)
            .where(Product.id == book_id, Product.stock <= STOCK_MAX - copies)
            .values(stock=Product.stock + copies)
            .returning(Product.stock)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if stock is None:
            db.session.rollback()
            return None
        _record(book_id, admin_id, "stock", stock - copies, stock)
        announce_restock([book_id])
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return stock


def set_hidden(book_id: int, hidden: bool, admin_id: int) -> bool:
    """Hide the book or put it back on sale; returns whether that changed anything."""
    try:
        was = db.session.scalar(select(Product.hidden).where(Product.id == book_id).with_for_update())
        if was is None:
            raise NoSuchBook(book_id)
        if was != hidden:
            db.session.execute(
                update(Product)
                .where(Product.id == book_id)
                .values(hidden=hidden)
                .execution_options(synchronize_session=False)
            )
            _record(book_id, admin_id, HIDDEN, was, hidden)
            if not hidden:
                announce_restock([book_id])  # a hidden book told nobody; shown again with stock, it tells them now
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return was != hidden


def upload_cover(book_id: int, data: bytes, content_type: str, admin_id: int) -> tuple[str, bool]:
    """Keep the upload as the book's cover (blasto.shop.covers.store_cover) and record it; commits."""
    try:
        old = db.session.scalar(select(BookCover.digest).where(BookCover.product_id == book_id).with_for_update())
        digest, needs_sizes = store_cover(book_id, data, content_type)
        if old != digest:
            _record(book_id, admin_id, COVER, old, digest)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return digest, needs_sizes


def recent_changes(book_id: int, limit: int = CHANGES_SHOWN) -> list[Change]:
    """The book's latest changes, newest first, with the name of the admin who made each."""
    rows = db.session.execute(
        select(BookChange.at, BookChange.field, BookChange.old_value, BookChange.new_value, User.name)
        .outerjoin(User, User.id == BookChange.user_id)
        .where(BookChange.product_id == book_id)
        .order_by(BookChange.at.desc(), BookChange.id.desc())
        .limit(limit)
    ).all()
    return [Change(at, field, old, new, by) for at, field, old, new, by in rows]


def _record(book_id: int, admin_id: int, field: str, old: object, new: object) -> None:
    db.session.add(
        BookChange(
            product_id=book_id,
            user_id=admin_id,
            field=field,
            old_value=_text(old),
            new_value=_text(new),
            request_id=request_id_var.get(),
        )
    )


def _text(value: object) -> str | None:
    """Values as text: booleans as "true"/"false", numbers as digits, None as NULL."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
