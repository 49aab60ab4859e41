"""Shoppers waiting for a sold-out book, and the one e-mail each gets when it is back.

Every change that can put a book back on sale (an admin's edit or restock,
showing a hidden book, an order's copies put back by blasto.shop.orders)
calls `announce_restock` in its own transaction: the wishes are marked
notified and their outbox rows written with the stock change, so the e-mail
is never lost and never owed twice (the mark, and the outbox key per wish).
A hidden book tells nobody: its wishes wait until it is shown with stock.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, delete, select, update
from sqlalchemy.exc import IntegrityError

from blasto.core.extensions import db
from blasto.models import Product, RestockWish
from blasto.models.base import utcnow
from blasto.outbox.records import owe_back_in_stock
from blasto.shop.catalog import FOR_SALE

# A book a waiting shopper hears about: on sale, with stock.
BACK = and_(Product.stock > 0, FOR_SALE)


class WishError(Exception):
    """A wish that cannot be made; the message is fit for the shopper."""


def is_waiting(user_id: int, product_id: int) -> bool:
    """Whether the shopper asked to hear about this book and has not been told yet."""
    found = db.session.scalar(
        select(RestockWish.id).where(
            RestockWish.user_id == user_id, RestockWish.product_id == product_id, RestockWish.notified_at.is_(None)
        )
    )
    return found is not None


def ask(user_id: int, product_id: int) -> None:
    """Record the wish and commit; asking twice keeps one. Raises WishError when the book is not sold out."""
    stock = db.session.scalar(select(Product.stock).where(Product.id == product_id, FOR_SALE))
    if stock is None:
        db.session.rollback()
        raise WishError("There is no such book in our catalogue.")
    if stock > 0:
        db.session.rollback()
        raise WishError("This book is in stock: you can buy it now.")
    try:
        wait_for_restock(user_id, product_id)
        db.session.commit()
    except IntegrityError:  # the same wish from a second click, committed first: one wish stands
        db.session.rollback()
    except BaseException:
        db.session.rollback()
        raise


def still_back(product_id: int) -> bool:
    """Whether the book is on sale with stock, its row locked until the caller's transaction ends.

    The lock orders this against a restock: one that commits first is seen
    here; one that comes after waits, then finds the wish `wait_for_restock` left.
    """
    # BACK is read as a column, not a filter: the row is locked whether or not the book is back.
    return bool(db.session.scalar(select(BACK).where(Product.id == product_id).with_for_update()))


def wait_for_restock(user_id: int, product_id: int) -> None:
    """Leave one waiting wish for this shopper and book; the caller commits.

    A wish already told starts again: a new row, a new id, so a new e-mail
    when the book comes back (the shopper asked again, or the book sold out
    again before the e-mail went).
    """
    db.session.execute(
        delete(RestockWish).where(
            RestockWish.user_id == user_id,
            RestockWish.product_id == product_id,
            RestockWish.notified_at.is_not(None),
        )
    )
    if not is_waiting(user_id, product_id):
        db.session.add(RestockWish(user_id=user_id, product_id=product_id))


def cancel(user_id: int, product_id: int) -> bool:
    """Drop the shopper's waiting wish and commit; returns whether there was one."""
    gone = db.session.execute(
        delete(RestockWish)
        .where(RestockWish.user_id == user_id, RestockWish.product_id == product_id, RestockWish.notified_at.is_(None))
        .returning(RestockWish.id)
    ).first()
    db.session.commit()
    return gone is not None


def announce_restock(product_ids: Iterable[int]) -> int:
    """Owe one e-mail per waiting wish for each of these books now for sale with stock; the caller commits.

    Call it after the stock or visibility change, in the same transaction. One UPDATE marks the
    wishes: of two restocks racing, the second finds them notified. Returns how many e-mails were owed.
    """
    ids = sorted(set(product_ids))
    if not ids:
        return 0
    back = select(Product.id).where(Product.id.in_(ids), BACK)
    told = db.session.execute(
        update(RestockWish)
        .where(RestockWish.product_id.in_(back), RestockWish.notified_at.is_(None))
        .values(notified_at=utcnow())
        .returning(RestockWish.id, RestockWish.user_id, RestockWish.product_id)
        .execution_options(synchronize_session=False)
    ).all()
    for wish_id, user_id, product_id in sorted(told):
        owe_back_in_stock(wish_id, user_id, product_id)
    return len(told)
