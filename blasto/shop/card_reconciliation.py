"""Asking Stripe directly, for what its webhooks may not tell: the clock's side of card payments.

Two questions, both about card orders still awaiting payment:
- `reconcile`: has Stripe taken the money for an order whose webhook never
  came (endpoint misregistered, Blasto down past Stripe's retries)? Then the
  order is paid now, through settle() like every card payment. Each order is
  asked about when its age reaches CARD_RECONCILE_AFTER_SECONDS, then twice
  that, four times... (about ten times over a three-day timeout), so abandoned
  card forms cost Stripe a handful of reads each, not one per sweep.
- `release_before_expiry`: an order about to expire must first lose its
  PaymentIntent at Stripe, or the shopper could pay for books already put
  back on the shelf. A cancelled intent can never be paid; one that turns
  out to be paid already is settled instead, and the expiry then leaves it be.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

import stripe
from flask import current_app
from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import Purchase
from blasto.models.base import utcnow
from blasto.models.purchase import AWAITING_PAYMENT, STRIPE
from blasto.shop import stripe_gateway
from blasto.shop.card_events import UNAVAILABLE
from blasto.shop.card_settlement import SUCCEEDED, settle

RECONCILE_BATCH = 100  # Stripe reads per sweep at most: newest orders first (the expiry asks about the oldest)
CANDIDATES = 5000  # orders looked at per sweep (ids and times only) to find the few due for a question
CANCELLED = "canceled"  # Stripe's spelling
# The intent states Stripe lets us cancel; `processing` is a payment in flight, which settles in seconds.
CANCELLABLE = ("requires_payment_method", "requires_confirmation", "requires_action", "requires_capture")
# Intents are cancelled this long before their order's deadline (a tenth of a short timeout), so an
# order that crosses it between this step and the expiry's own query is covered too.
EXPIRY_LEAD_SECONDS = 30.0

log = logging.getLogger(__name__)


def stripe_on() -> bool:
    return current_app.config["PAYMENTS"].stripe is not None


def awaiting_card_orders(placed_before: datetime, *, newest_first: bool, limit: int) -> list[tuple[int, str, datetime]]:
    """(order id, intent id, placed at) of card orders awaiting payment that were placed before `placed_before`."""
    order = (Purchase.created_at.desc(), Purchase.id.desc()) if newest_first else (Purchase.created_at, Purchase.id)
    rows = db.session.execute(
        select(Purchase.id, Purchase.payment_intent_id, Purchase.created_at)
        .where(
            Purchase.status == AWAITING_PAYMENT,
            Purchase.payment_method == STRIPE,
            Purchase.payment_intent_id.is_not(None),
            Purchase.created_at < placed_before,
        )
        .order_by(*order)
        .limit(limit)
    ).all()
    db.session.rollback()
    return [(purchase_id, intent_id, placed) for purchase_id, intent_id, placed in rows if intent_id]


def due_for_a_question(age_seconds: float, after_seconds: float, every_seconds: float) -> bool:
    """Whether the order's age reached after, 2 x after, 4 x after... within the last two sweep periods.

    Two periods, so a sweep that runs a little late still asks; an order may then be asked twice, harmlessly.
    """
    if age_seconds < after_seconds:
        return False
    if after_seconds <= 0:
        return True
    step = after_seconds * 2 ** math.floor(math.log2(age_seconds / after_seconds))
    return age_seconds - step < 2 * every_seconds


def reconcile(after_seconds: float, every_seconds: float) -> list[str]:
    """Settle the card orders due for a question (see due_for_a_question) whose intent Stripe shows succeeded.

    Returns the outcomes. Stops at the first sign that Stripe cannot be asked: the next sweep tries again.
    """
    now, outcomes = utcnow(), []
    candidates = awaiting_card_orders(now - timedelta(seconds=after_seconds), newest_first=True, limit=CANDIDATES)
    due = [
        (purchase_id, intent_id)
        for purchase_id, intent_id, placed in candidates
        if due_for_a_question((now - placed).total_seconds(), after_seconds, every_seconds)
    ]
    for purchase_id, intent_id in due[:RECONCILE_BATCH]:
        try:
            intent = stripe_gateway.retrieve_intent(intent_id)
        except UNAVAILABLE as error:
            log.warning("Stripe unreachable; reconciliation waits for the next sweep", extra={"error": _named(error)})
            break
        except stripe.InvalidRequestError as refused:
            log.error(
                "card order's payment unknown to Stripe",
                extra={"purchase_id": purchase_id, "intent": intent_id, "error": _named(refused)},
            )
            continue
        if intent.status == SUCCEEDED:
            outcome = settle(intent)
            log.info(
                "card payment found by reconciliation (its webhook never came)",
                extra={"purchase_id": purchase_id, "outcome": outcome},
            )
            outcomes.append(outcome)
    return outcomes


def release_before_expiry(timeout_seconds: float) -> set[int]:
    """Cancel at Stripe the intent of every card order about to expire; settle those Stripe shows paid.

    Returns the ids of the card orders that may expire now (their intent cancelled, or unknown to
    Stripe). The others wait for a later sweep (Stripe unreachable, a payment in flight), since expiring
    them would put back books the shopper may still be paying for; manual orders never wait for Stripe.
    """
    lead = min(EXPIRY_LEAD_SECONDS, timeout_seconds / 10)
    cutoff = utcnow() - timedelta(seconds=timeout_seconds - lead)
    candidates = awaiting_card_orders(cutoff, newest_first=False, limit=CANDIDATES)
    if not stripe_on():
        return {purchase_id for purchase_id, _, _ in candidates}  # card payments are off: nothing can pay them now
    released: set[int] = set()
    for purchase_id, intent_id, _ in candidates:
        try:
            status = _cancel_or_settle(intent_id)
        except UNAVAILABLE as error:
            log.warning("Stripe unreachable; card orders expire at a later sweep", extra={"error": _named(error)})
            break
        if status in (CANCELLED, "missing"):
            released.add(purchase_id)
        elif status != SUCCEEDED:
            log.warning(
                "card order's payment could not be cancelled; its expiry waits",
                extra={"purchase_id": purchase_id, "intent": intent_id, "intent_status": status},
            )
    return released


def _cancel_or_settle(intent_id: str) -> str:
    """The intent's final word: `canceled`, `succeeded` (settled), `missing`, or a state that cannot be cancelled."""
    try:
        intent = stripe_gateway.retrieve_intent(intent_id)
        if intent.status in CANCELLABLE:
            try:
                intent = stripe_gateway.cancel_intent(intent_id)
            except stripe.InvalidRequestError:  # its state moved between the two calls (paid just now): read it again
                intent = stripe_gateway.retrieve_intent(intent_id)
    except stripe.InvalidRequestError as refused:
        log.error("card order's payment unknown to Stripe", extra={"intent": intent_id, "error": _named(refused)})
        return "missing"
    if intent.status == SUCCEEDED:
        log.info("card order paid just before its expiry", extra={"intent": intent_id, "outcome": settle(intent)})
    return intent.status


def _named(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:300]
