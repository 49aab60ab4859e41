"""How many paid orders hold both of two books: the book page's "shoppers also bought".

One row per book and other book (both directions), kept by
blasto.shop.sales_counts as orders are paid and refunded, so the busiest page
reads one book's few rows by their key instead of adding up every sale.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from blasto.core.extensions import Model


class BookPair(Model):
    __tablename__ = "book_pairs"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    other_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    # Paid or shipped orders holding both; 0 once they were all refunded (the page reads only > 0).
    orders: Mapped[int] = mapped_column(Integer, default=0)
