"""Purchases and their lines; the unit price is frozen at purchase time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blasto.core.extensions import Model
from blasto.models.base import UTCDateTime, utcnow


class Purchase(Model):
    __tablename__ = "purchases"
    __table_args__ = (
        # A retried API call with the same key finds the first purchase.
        UniqueConstraint("user_id", "idempotency_key", name="uq_purchases_user_id_idempotency_key"),
        Index("ix_purchases_user_id_created_at_id", "user_id", "created_at", "id"),
        # Everyone's purchases by time: the admin list, its date filters and sales reports.
        Index("ix_purchases_created_at_id", "created_at", "id"),
        CheckConstraint("total_cents >= 0", name="total_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    total_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="paid")
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # sha256 of the normalised order, to tell a retry from a different order.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)

    items: Mapped[list[PurchaseItem]] = relationship(back_populates="purchase", order_by="PurchaseItem.id")


class PurchaseItem(Model):
    __tablename__ = "purchase_items"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price_cents >= 0", name="unit_price_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(Integer)

    purchase: Mapped[Purchase] = relationship(back_populates="items")
