"""Books for sale.

A hidden book is off sale, not deleted: past purchases still name it, so its
row stays and shoppers simply stop seeing it (blasto.shop.catalog.for_sale).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from blasto.core.extensions import Model
from blasto.models.base import UTCDateTime, utcnow

TITLE_MAX = AUTHOR_MAX = 200
STOCK_MAX = 1_000_000  # a bookshop's shelf, not a warehouse; also far from INTEGER's limit


class Product(Model):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX), index=True)
    author: Mapped[str] = mapped_column(String(AUTHOR_MAX), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    price_cents: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
