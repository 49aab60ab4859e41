"""A shopper's wish to hear when a sold-out book is back: one per shopper and book.

`notified_at` is set in the transaction that owes the e-mail (the outbox row
of blasto.shop.restock_wishes), so a wish is told once: a later restock
finds it notified and owes nothing. Asking again after being told starts a
new wish (a new id, so a new outbox key).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from blasto.core.extensions import Model
from blasto.models.base import UTCDateTime, utcnow


class RestockWish(Model):
    __tablename__ = "restock_wishes"
    __table_args__ = (
        UniqueConstraint("user_id", "product_id", name="uq_restock_wishes_user_id_product_id"),
        # The e-mail's outbox key names the wish id, so an id is never used twice, on SQLite too
        # (without AUTOINCREMENT it reuses the highest id once that row is deleted).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The restock's query: a book's waiting wishes.
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
