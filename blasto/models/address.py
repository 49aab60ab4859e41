"""Shipping addresses: the ones a shopper keeps on the account, and the shape an order copies.

An order copies its address into its own columns (blasto.models.purchase),
so editing or dropping a saved address never rewrites a past order.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from blasto.core.extensions import Model
from blasto.models.base import UTCDateTime, utcnow

RECIPIENT_MAX, LINE_MAX, CITY_MAX, POSTAL_CODE_MAX = 100, 100, 100, 20
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "postal_code", "country")


class SavedAddress(Model):
    __tablename__ = "saved_addresses"
    __table_args__ = (
        # A shopper's addresses, most recently used first (the checkout's choices).
        Index("ix_saved_addresses_user_id_used_at", "user_id", "used_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    name: Mapped[str] = mapped_column(String(RECIPIENT_MAX))
    line1: Mapped[str] = mapped_column(String(LINE_MAX))
    line2: Mapped[str] = mapped_column(String(LINE_MAX), default="")
    city: Mapped[str] = mapped_column(String(CITY_MAX))
    postal_code: Mapped[str] = mapped_column(String(POSTAL_CODE_MAX))
    country: Mapped[str] = mapped_column(String(2))
