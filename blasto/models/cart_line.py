"""A signed-in shopper's cart: one row per book, kept on the account.

The cart of a visitor who is not signed in stays in the session cookie
(blasto.site.cart); once signed in it lives here, so it outlives log-out and
is the same on every device. The row holds the quantity only: prices and
stock are read from the products whenever the cart is shown or bought.
A book deleted from the catalogue drops out of every cart with it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from blasto.core.extensions import Model
from blasto.models.base import UTCDateTime, utcnow


class CartLine(Model):
    __tablename__ = "cart_lines"
    __table_args__ = (CheckConstraint("quantity >= 1", name="quantity_positive"),)

    # The primary key is the pair: one line per book per account.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    quantity: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
