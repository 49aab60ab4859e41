"""Money a card order owes its shopper back through Stripe: written with the move that owes it, made once.

The row commits in the same transaction as the order's move to `refunded`,
so a refund can never be owed without being written down, nor written down
without its cause. The worker makes it (blasto.shop.card_refunds) and stores
Stripe's refund id; until then the clock's sweep retries it, so a Stripe
outage delays the money and loses none. One row per order (unique): however
often a move or an event is repeated, the money goes back once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from blasto.core.extensions import Model
from blasto.models.base import UTCDateTime, utcnow

REASON_MAX, ERROR_MAX = 200, 500


class CardRefund(Model):
    __tablename__ = "card_refunds"
    __table_args__ = (
        # The sweep's question: what is still owed, oldest first.
        Index("ix_card_refunds_refund_id_created_at", "refund_id", "created_at"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"), unique=True)
    payment_intent_id: Mapped[str] = mapped_column(String(255))
    amount_cents: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(REASON_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(ERROR_MAX), nullable=True)
    # Stripe's refund (re_...), once made: NULL means the money is still owed.
    refund_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    made_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
