"""What Stripe says about an order's PaymentIntent, applied to the order: the one place a card payment lands.

Three callers reach it with an intent they have just read from Stripe: the
checkout when the confirm answers at once, the worker applying a webhook
event, and the reconciliation sweep that asks Stripe about orders still
waiting. Applying it twice is harmless: the order's move refuses a state it
has already left. The amount and the currency are checked against the order
before any move: money that does not match is recorded, never taken as payment.
"""

from __future__ import annotations

import logging

import stripe
from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import Purchase
from blasto.models.purchase import PROVIDER, STRIPE
from blasto.shop import orders
from blasto.shop.stripe_gateway import currency

SUCCEEDED = "succeeded"
log = logging.getLogger(__name__)


def order_of(intent: stripe.PaymentIntent) -> Purchase | None:
    """The order this intent pays, found by the id stored on the order (the metadata is only a hint)."""
    purchase = db.session.scalar(select(Purchase).where(Purchase.payment_intent_id == intent.id))
    return purchase


def settle(intent: stripe.PaymentIntent) -> str:
    """Apply a succeeded intent to its order; returns what happened, in words for the record."""
    purchase = order_of(intent)
    if purchase is None:
        db.session.rollback()
        return f"no order has payment {intent.id}: nothing changed"
    purchase_id, total, method = purchase.id, purchase.total_cents, purchase.payment_method
    db.session.rollback()
    if method != STRIPE:
        return f"order #{purchase_id} is not paid by card: nothing changed"
    if intent.status != SUCCEEDED:
        return f"payment {intent.id} is {intent.status}: order #{purchase_id} unchanged"
    if intent.amount != total or intent.currency != currency():
        log.error(
            "payment %s is %s %s but order #%s is %s %s: not applied",
            intent.id,
            intent.amount,
            intent.currency,
            purchase_id,
            total,
            currency(),
        )
        return (
            f"payment {intent.id} of {intent.amount} {intent.currency} does not match order #{purchase_id}: not applied"
        )
    try:
        orders.move(purchase_id, orders.PAY, PROVIDER, note=f"card payment {intent.id}")
    except orders.NotAllowed as refused:
        return f"order #{purchase_id} is {refused.status}: payment {intent.id} already settled or too late"
    return f"order #{purchase_id} paid by card ({intent.id})"
