"""What Stripe says about an order's PaymentIntent, applied to the order: the one place a card payment lands.

Three callers reach it with an intent they have just read from Stripe: the
checkout when the confirm answers at once, the worker applying a webhook
event, and the reconciliation sweep that asks Stripe about orders still
waiting. Applying it twice is harmless: the order's move refuses a state it
has already left. The amount and the currency are checked against the order
before any move: money that does not match is recorded, never taken as payment.

A payment that lands on an order already cancelled is decided here, never
left to chance. An order that expired unpaid is paid after all if all its
books can be taken again (in one transaction with the move), else its money
goes back through Stripe and the shopper is told (the move to `refunded`
owes both); an order the provider cancelled is treated the same. An order
its shopper or the shop cancelled is refunded whatever the stock: someone
chose not to have it, and a late payment does not overrule them. A refund
made in Stripe's dashboard (`charge.refunded`) is applied by
`refunded_at_provider`, without a second refund.
"""

from __future__ import annotations

import logging

import stripe
from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import Purchase, PurchaseEvent
from blasto.models.purchase import ADMIN, CANCELLED, PAID, PROVIDER, REFUNDED, SHOPPER, STRIPE, TIMEOUT
from blasto.shop import orders
from blasto.shop.money import format_cents
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
        if refused.status == CANCELLED:
            return _too_late(purchase_id, intent.id)
        return f"order #{purchase_id} is {refused.status}: payment {intent.id} already settled"
    return f"order #{purchase_id} paid by card ({intent.id})"


def _too_late(purchase_id: int, intent_id: str) -> str:
    """The money came after the order was cancelled: paid after all, or refunded; decided once."""
    cause = _cancelled_by(purchase_id)
    if cause in CHOSEN:
        why = f"payment {intent_id} arrived after the order was cancelled by the {_WHO[cause]}: refunded"
    else:  # expired (or cancelled by the provider): nobody chose not to have the books
        after = "expired" if cause == TIMEOUT else "was cancelled"
        try:
            orders.move(
                purchase_id,
                orders.LATE_PAY,
                PROVIDER,
                note=f"payment arrived after the order {after}; books reserved again (card payment {intent_id})",
            )
        except orders.OutOfStock:
            why = f"payment {intent_id} arrived after the order {after} and its books are gone: refunded"
        except orders.NotAllowed as refused:
            return f"order #{purchase_id} is {refused.status}: late payment {intent_id} already settled"
        else:
            return f"order #{purchase_id} paid late by card ({intent_id}): books reserved again"
    try:
        orders.move(purchase_id, orders.LATE_REFUND, PROVIDER, note=why)
    except orders.NotAllowed as refused:
        return f"order #{purchase_id} is {refused.status}: late payment {intent_id} already settled"
    return f"order #{purchase_id}: {why} (refund owed)"


# Cancels that were someone's choice not to have the order: a late payment does not overrule them.
CHOSEN = (SHOPPER, ADMIN)
_WHO = {SHOPPER: "shopper", ADMIN: "shop"}


def _cancelled_by(purchase_id: int) -> str | None:
    """Who cancelled the order (the cause of its move to `cancelled`): the timeout, the shopper, the shop."""
    cause = db.session.scalar(
        select(PurchaseEvent.cause)
        .where(PurchaseEvent.purchase_id == purchase_id, PurchaseEvent.to_status == CANCELLED)
        .order_by(PurchaseEvent.at.desc(), PurchaseEvent.id.desc())
        .limit(1)
    )
    db.session.rollback()
    return cause


def refunded_at_provider(intent_id: str, amount_refunded: int) -> str:
    """Apply a refund Stripe reports (`charge.refunded`, `amount_refunded` in cents, all refunds so far).

    A paid order refunded in full moves to `refunded` (cause provider): its
    books go back, the shopper is told, and no refund is owed (the money has
    gone back). Anything else (a partial refund, or a full one of an order
    that has shipped) is a note in the order's history, once. The shop's own
    refunds come back as this event too: their order is refunded already,
    and nothing changes.
    """
    purchase = db.session.scalar(select(Purchase).where(Purchase.payment_intent_id == intent_id))
    if purchase is None:
        db.session.rollback()
        return f"no order has payment {intent_id}: nothing changed"
    purchase_id, total, method, status = purchase.id, purchase.total_cents, purchase.payment_method, purchase.status
    db.session.rollback()
    if method != STRIPE:
        return f"order #{purchase_id} is not paid by card: nothing changed"
    if isinstance(amount_refunded, bool) or not isinstance(amount_refunded, int) or amount_refunded <= 0:
        return f"refund of {amount_refunded!r} for payment {intent_id} is not an amount: nothing changed"
    if status == REFUNDED:
        return f"order #{purchase_id} is refunded already: nothing changed"
    told = f"{format_cents(amount_refunded)} of {format_cents(total)} refunded at Stripe ({intent_id})"
    if status == PAID and amount_refunded >= total:
        try:
            orders.move(purchase_id, orders.REFUNDED_AT_PROVIDER, PROVIDER, note=f"{told}, not by the shop")
        except orders.NotAllowed as refused:
            status = refused.status
            if status == REFUNDED:
                return f"order #{purchase_id} is refunded already: nothing changed"
        else:
            return f"order #{purchase_id} refunded at Stripe ({intent_id})"
    recorded = orders.add_note(purchase_id, PROVIDER, f"{told}; the order stays {status.replace('_', ' ')}")
    return f"order #{purchase_id}: {told}, " + ("noted in its history" if recorded else "noted already")
