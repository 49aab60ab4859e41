"""A payment provider's event (a Stripe webhook), stored once by its id and applied once by the worker.

The web process only verifies and stores it (unique per provider and event
id, so a redelivery changes nothing); `applied_at` says the worker has acted
on it, and `outcome` says what that did, for the admin and for the record.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from blasto.core.extensions import Model
from blasto.models.base import UTCDateTime, utcnow

OUTCOME_MAX = 500


class PaymentEvent(Model):
    __tablename__ = "payment_events"
    __table_args__ = (
        UniqueConstraint("provider", "event_id", name="uq_payment_events_provider_event_id"),
        # The sweep's question: what is stored and not yet applied, oldest first.
        Index("ix_payment_events_applied_at_received_at", "applied_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(100))
    # The object the event is about (a PaymentIntent's or a charge's id), to find it by order.
    object_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(OUTCOME_MAX), nullable=True)
