"""The outbox: e-mails owed to shoppers, written in the transaction that owes them.

A purchase and its receipt row commit together, so a receipt can be late but
never lost; the worker marks a row sent in the transaction that holds its
claim, so a redelivered task finds it sent and does nothing. `key` names what
the message is for ("receipt:<purchase id>", "welcome:<user id>") and is
unique, so nothing can owe the same e-mail twice; it survives the deletion of
what it names.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from blasto.core.extensions import Model
from blasto.models.base import UTCDateTime, utcnow

PENDING, SENT, FAILED = "pending", "sent", "failed"
# Owed once, no longer true when its turn came (a book back in stock sold out again first): not sent,
# and not an error to retry; last_error says why (blasto.outbox.delivery).
WITHDRAWN = "withdrawn"
STATES = (PENDING, SENT, FAILED, WITHDRAWN)
RECEIPT, WELCOME = "receipt", "welcome"  # a receipt is owed when the payment is in, not before
# The life of an order (blasto.shop.orders): placed (with how to pay), shipped, cancelled, refunded.
ORDER_PLACED, SHIPPED, CANCELLED, REFUNDED = "order_placed", "shipped", "cancelled", "refunded"
# A link to reset a forgotten password (blasto.shop.password_reset): one row per ask.
PASSWORD_RESET = "password_reset"
# To every admin: a sale took a book's stock below its alert threshold (blasto.shop.low_stock).
LOW_STOCK = "low_stock"
# A new address confirmed by a link sent to it, and the old address told (blasto.shop.email_change).
EMAIL_CHANGE, EMAIL_CHANGED = "email_change", "email_changed"
# A sold-out book a shopper asked about is back (blasto.shop.restock_wishes).
BACK_IN_STOCK = "back_in_stock"
KINDS = (
    RECEIPT,
    WELCOME,
    ORDER_PLACED,
    SHIPPED,
    CANCELLED,
    REFUNDED,
    PASSWORD_RESET,
    LOW_STOCK,
    EMAIL_CHANGE,
    EMAIL_CHANGED,
    BACK_IN_STOCK,
)


class OutboxMessage(Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint(f"state IN {STATES}", name="state_known"),
        CheckConstraint(f"kind IN {KINDS}", name="kind_known"),
        # The sweep's query: pending rows that fell due a while ago.
        Index("ix_outbox_messages_pending_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default=PENDING)
    recipient: Mapped[str] = mapped_column(String(320))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    purchase_id: Mapped[int | None] = mapped_column(
        ForeignKey("purchases.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # The book a low-stock alert or a back-in-stock e-mail is about. No foreign key: like `key`, it outlives what it names.
    product_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Absolute link for the e-mail, fixed when the message is owed (the worker has no request).
    link: Mapped[str] = mapped_column(String(500), default="")
    request_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
