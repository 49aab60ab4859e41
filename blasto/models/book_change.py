"""What an admin changed on a book: who, when, which field, from what to what, in which request.

Written in the transaction of the change itself (blasto.shop.book_edits), so
the catalogue and its record cannot disagree. Values are kept as text, as
they were (cents for a price, a count for stock, a digest for a cover).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from blasto.core.extensions import Model
from blasto.models.base import UTCDateTime, utcnow

FIELD_MAX = 40


class BookChange(Model):
    __tablename__ = "book_changes"
    __table_args__ = (
        # A book's edit page: its latest changes, newest first.
        Index("ix_book_changes_product_id_at_id", "product_id", "at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    # The admin who made it; kept (as none) if the account goes.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    field: Mapped[str] = mapped_column(String(FIELD_MAX))
    old_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
