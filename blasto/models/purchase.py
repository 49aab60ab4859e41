"""Purchases, their lines and their history; the unit price is frozen at purchase time.

A purchase moves through the states below (blasto.shop.orders owns every
move); each move leaves a PurchaseEvent row, so the order page can show who
changed what, when and why.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blasto.core.extensions import Model
from blasto.models.address import CITY_MAX, LINE_MAX, POSTAL_CODE_MAX, RECIPIENT_MAX
from blasto.models.base import UTCDateTime, utcnow

AWAITING_PAYMENT, PAID, SHIPPED, CANCELLED, REFUNDED = "awaiting_payment", "paid", "shipped", "cancelled", "refunded"
STATUSES = (AWAITING_PAYMENT, PAID, SHIPPED, CANCELLED, REFUNDED)
# Money that came in and stayed: what sales figures count.
SOLD = (PAID, SHIPPED)
MANUAL = "manual"  # paid outside the shop (bank transfer, cash); an admin records it
STRIPE = "stripe"  # paid by card through Stripe; the provider's events record it
PAYMENT_METHODS = (MANUAL, STRIPE)
SHOPPER, ADMIN, PROVIDER, TIMEOUT = "shopper", "admin", "provider", "timeout"
CAUSES = (SHOPPER, ADMIN, PROVIDER, TIMEOUT)
CARRIER_MAX, TRACKING_MAX, NOTE_MAX = 100, 100, 500


class Purchase(Model):
    __tablename__ = "purchases"
    __table_args__ = (
        # A retried API call with the same key finds the first purchase.
        UniqueConstraint("user_id", "idempotency_key", name="uq_purchases_user_id_idempotency_key"),
        Index("ix_purchases_user_id_created_at_id", "user_id", "created_at", "id"),
        # Everyone's purchases by time: the admin list, its date filters and sales reports.
        Index("ix_purchases_created_at_id", "created_at", "id"),
        # Orders in one state by time: the admin's "to ship" list and the expiry sweep.
        Index("ix_purchases_status_created_at_id", "status", "created_at", "id"),
        CheckConstraint("total_cents >= 0", name="total_not_negative"),
        CheckConstraint(f"status IN {STATUSES}", name="status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    total_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=AWAITING_PAYMENT)
    payment_method: Mapped[str] = mapped_column(String(20), default=MANUAL, server_default=MANUAL)
    # The Stripe PaymentIntent that collects this order's money (card payments only), made once.
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), nullable=True, unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # sha256 of the normalised order, to tell a retry from a different order.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Set when the order is shipped.
    carrier: Mapped[str | None] = mapped_column(String(CARRIER_MAX), nullable=True)
    tracking_number: Mapped[str | None] = mapped_column(String(TRACKING_MAX), nullable=True)
    # Chosen at checkout; total_cents includes shipping_cents. Orders placed before shipping had
    # none: no option, no address, shipping 0.
    shipping_option: Mapped[str | None] = mapped_column(String(20), nullable=True)
    shipping_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The address copied from the checkout, so a later edit of the address book leaves it be.
    ship_name: Mapped[str | None] = mapped_column(String(RECIPIENT_MAX), nullable=True)
    ship_line1: Mapped[str | None] = mapped_column(String(LINE_MAX), nullable=True)
    ship_line2: Mapped[str | None] = mapped_column(String(LINE_MAX), nullable=True)
    ship_city: Mapped[str | None] = mapped_column(String(CITY_MAX), nullable=True)
    ship_postal_code: Mapped[str | None] = mapped_column(String(POSTAL_CODE_MAX), nullable=True)
    ship_country: Mapped[str | None] = mapped_column(String(2), nullable=True)

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


class PurchaseEvent(Model):
    """One move of a purchase (or its creation, from no state): when, why, by whom, in which request."""

    __tablename__ = "purchase_events"
    __table_args__ = (
        # Moves into one state by time: the dashboard's sales by the time they were paid.
        Index("ix_purchase_events_to_status_at", "to_status", "at"),
        CheckConstraint(f"to_status IN {STATUSES}", name="to_status_known"),
        CheckConstraint(f"cause IN {CAUSES}", name="cause_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str] = mapped_column(String(20))
    cause: Mapped[str] = mapped_column(String(20))
    # Who acted (a shopper or an admin); none for a timeout. Kept if the account goes.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    note: Mapped[str | None] = mapped_column(String(NOTE_MAX), nullable=True)
