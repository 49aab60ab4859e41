"""A shopper paying an order by card: its PaymentIntent made once, the card from Stripe.js charged, 3-D Secure finished.

The site's order page and the API share these steps (CARD-DESIGN.md, steps
1-3). The intent is made under a row lock on the order, so two requests for
one order (a double click, two tabs, an API retry) wait for each other and
find the first one's intent: localstripe ignores idempotency keys, and real
Stripe forgets them after a day. The money lands on the order only through
card_settlement.settle, the place the webhooks and the reconciliation sweep
use too, so whichever hears of the payment first applies it and the others
find it done. Stripe unreachable or failing is PaymentUnavailable: the order
stays awaiting payment and the shopper is told to try again, never a 500.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import stripe
from flask import current_app
from sqlalchemy import select, update

from blasto.core.extensions import db
from blasto.models import Purchase
from blasto.models.purchase import AWAITING_PAYMENT, PAID, REFUNDED, SHIPPED, STRIPE
from blasto.shop import stripe_gateway
from blasto.shop.card_settlement import SUCCEEDED, settle
from blasto.shop.orders import NoSuchOrder

log = logging.getLogger(__name__)

# What a Stripe.js token hands over: the token (tok_...) or its card (card_...), or a PaymentMethod (pm_...).
CARD_ID = re.compile(r"(tok|card|pm)_[A-Za-z0-9]{1,200}")
PAID_STATES = (PAID, SHIPPED)
# The outcomes of a payment attempt.
PAID_NOW, NEEDS_ACTION, DECLINED, PENDING = "paid", "requires_action", "declined", "pending"
REFUNDED_LATE = "refunded"
UNAVAILABLE_MESSAGE = (
    "We can't reach our card payment provider right now. Your order is kept, awaiting payment, "
    "and nothing was charged: please try again in a few minutes."
)
DECLINED_MESSAGE = "Your card was declined. Try again, or use another card."
UNUSABLE_MESSAGE = "This card could not be used. Check its details and try again, or use another card."
AUTHENTICATION_FAILED_MESSAGE = (
    "Your bank's authentication failed, so nothing was charged. Try again, or use another card."
)
NOT_STARTED_MESSAGE = "No card payment has been made for this order yet: enter your card to pay."
LATE_REFUND_MESSAGE = (
    "Your payment arrived after the order was cancelled, so it is being refunded to your card. "
    "Place the order again if you still want the books."
)
PENDING_MESSAGE = "Your payment is being processed; this page shows the order paid as soon as it is in."


class CardCheckoutError(Exception):
    """A card payment that cannot go ahead; the message is fit for the shopper."""


class PaymentUnavailable(CardCheckoutError):
    def __init__(self):
        super().__init__(UNAVAILABLE_MESSAGE)


class NotPayable(CardCheckoutError):
    """The order is not one to pay by card now (paid, cancelled, or paid by hand); nothing was charged."""

    def __init__(self, purchase_id: int, status: str, method: str = STRIPE):
        self.purchase_id, self.status = purchase_id, status
        if method != STRIPE:
            message = f"Order #{purchase_id} is paid by bank transfer, not by card: see how to pay on the order."
        elif status in PAID_STATES:
            message = f"Order #{purchase_id} is already paid: nothing more was charged."
        else:
            message = f"Order #{purchase_id} is {status.replace('_', ' ')}: it can no longer be paid."
        super().__init__(message)


class BadCard(CardCheckoutError):
    """What was posted is not a card from Stripe.js (missing, or not a token, card or PaymentMethod id)."""

    def __init__(self):
        super().__init__(
            "No card details arrived. Enter your card again (paying by card needs JavaScript in this page)."
        )


@dataclass(frozen=True)
class Outcome:
    """What a payment attempt came to: PAID_NOW, NEEDS_ACTION (with the client secret), DECLINED, PENDING,
    or REFUNDED_LATE (the order was cancelled while the card was charged, and the money goes back)."""

    kind: str
    message: str = ""
    client_secret: str | None = None


def ensure_intent(purchase_id: int) -> str:
    """The id of the order's PaymentIntent, made now if it has none; once per order, whoever asks at the same time.

    The `SELECT ... FOR UPDATE` holds a second caller until the first has
    stored its intent, so it finds that one instead of making another.
    """
    try:
        row = db.session.execute(
            select(Purchase.payment_intent_id, Purchase.total_cents, Purchase.status, Purchase.payment_method)
            .where(Purchase.id == purchase_id)
            .with_for_update()
        ).one_or_none()
        if row is None:
            raise NoSuchOrder(purchase_id)
        if row.payment_intent_id is not None:
            db.session.rollback()  # the lock goes with the transaction
            return row.payment_intent_id
        if row.payment_method != STRIPE or row.status != AWAITING_PAYMENT:
            raise NotPayable(purchase_id, row.status, row.payment_method)
        _require_stripe(purchase_id)
        try:
            intent = stripe_gateway.create_intent(purchase_id, row.total_cents)
        except stripe.StripeError as exc:
            raise _unavailable(exc, "create the payment of order", purchase_id) from exc
        db.session.execute(
            update(Purchase)
            .where(Purchase.id == purchase_id)
            .values(payment_intent_id=intent.id)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    log.info("payment intent made", extra={"purchase_id": purchase_id, "payment_intent": intent.id})
    return intent.id


def prepare(purchase_id: int) -> None:
    """Make a new card order's intent at checkout; Stripe down is logged and left to the pay step, which tries again."""
    try:
        ensure_intent(purchase_id)
    except PaymentUnavailable:
        pass  # _unavailable logged it; the order is placed and waits for its payment either way


def pay(purchase_id: int, owner_id: int, card_id: object) -> Outcome:
    """Charge the card from Stripe.js (a token, card or PaymentMethod id) for the owner's order awaiting payment.

    Raises NoSuchOrder (not the owner's), NotPayable, BadCard or PaymentUnavailable; charges nothing then.
    """
    if not isinstance(card_id, str) or not CARD_ID.fullmatch(card_id):
        _payable(purchase_id, owner_id)  # a missing order says so before a bad body does
        raise BadCard()
    _payable(purchase_id, owner_id)
    intent_id = ensure_intent(purchase_id)
    _require_stripe(purchase_id)
    try:
        if card_id.startswith("tok_"):
            card_id = stripe_gateway.card_of_token(card_id)
        intent = stripe_gateway.pay_with_card(intent_id, card_id)
    except stripe.CardError as exc:
        log.info("card declined", extra={"purchase_id": purchase_id, "decline_code": exc.code})
        return Outcome(DECLINED, exc.user_message or DECLINED_MESSAGE)
    except stripe.InvalidRequestError as exc:
        # An unknown card, or an intent that cannot take one now (paid by the other tab, waiting
        # for 3-D Secure): what the intent says now decides.
        log.info("card refused", extra={"purchase_id": purchase_id, "error": str(exc)[:200]})
        intent = _retrieve(intent_id, purchase_id)
        return _outcome(purchase_id, intent, UNUSABLE_MESSAGE)
    except stripe.StripeError as exc:
        raise _unavailable(exc, "charge a card for order", purchase_id) from exc
    return _outcome(purchase_id, intent, DECLINED_MESSAGE)


def confirm_after_action(purchase_id: int, owner_id: int) -> Outcome:
    """After Stripe.js's 3-D Secure step: ask Stripe how the intent ended, and settle the order if it is paid."""
    status, intent_id = _owned(purchase_id, owner_id)
    if status in PAID_STATES:
        return Outcome(PAID_NOW)  # a webhook was quicker
    if intent_id is None:
        _payable(purchase_id, owner_id)
        return Outcome(DECLINED, NOT_STARTED_MESSAGE)
    intent = _retrieve(intent_id, purchase_id)
    if intent.status != SUCCEEDED:
        _payable(purchase_id, owner_id)
    # Money taken is settled whatever became of the order meanwhile: settle() decides a late payment.
    return _outcome(purchase_id, intent, _failure_message(intent))


def _failure_message(intent: stripe.PaymentIntent) -> str:
    """Why an intent waits for a card again: the bank's check failed, the card was declined, or none was tried."""
    error = intent.last_payment_error
    if error is None:
        return NOT_STARTED_MESSAGE
    if error.code == "payment_intent_authentication_failure":
        return AUTHENTICATION_FAILED_MESSAGE
    return DECLINED_MESSAGE


def intent_state(purchase_id: int) -> tuple[str, str | None] | None:
    """(status, client secret) of an awaited card order's intent, made if missing; settled if Stripe says it is paid.

    None when Stripe cannot be asked, or the order left awaiting payment meanwhile: the caller shows it without them.
    """
    try:
        intent = _retrieve(ensure_intent(purchase_id), purchase_id)
    except (PaymentUnavailable, NotPayable):
        return None
    if intent.status == SUCCEEDED:
        settle(intent)  # paid in a way this process has not heard of yet (the API client's 3-D Secure step)
    return intent.status, intent.client_secret


def _owned(purchase_id: int, owner_id: int) -> tuple[str, str | None]:
    row = db.session.execute(
        select(Purchase.status, Purchase.payment_intent_id).where(
            Purchase.id == purchase_id, Purchase.user_id == owner_id
        )
    ).one_or_none()
    db.session.rollback()
    if row is None:
        raise NoSuchOrder(purchase_id)
    return row.status, row.payment_intent_id


def _payable(purchase_id: int, owner_id: int) -> None:
    row = db.session.execute(
        select(Purchase.status, Purchase.payment_method).where(Purchase.id == purchase_id, Purchase.user_id == owner_id)
    ).one_or_none()
    db.session.rollback()
    if row is None:
        raise NoSuchOrder(purchase_id)
    if row.status != AWAITING_PAYMENT or row.payment_method != STRIPE:
        raise NotPayable(purchase_id, row.status, row.payment_method)


def _require_stripe(purchase_id: int) -> None:
    """A card order outlives its settings if Stripe's keys are removed: that is an outage for it, not a crash."""
    if current_app.config["PAYMENTS"].stripe is None:
        log.error("card order but Stripe is not configured", extra={"purchase_id": purchase_id})
        raise PaymentUnavailable()


def _retrieve(intent_id: str, purchase_id: int) -> stripe.PaymentIntent:
    _require_stripe(purchase_id)
    try:
        return stripe_gateway.retrieve_intent(intent_id)
    except stripe.StripeError as exc:
        raise _unavailable(exc, "read the payment of order", purchase_id) from exc


def _outcome(purchase_id: int, intent: stripe.PaymentIntent, failed_message: str) -> Outcome:
    """The order's side of what the intent says: settled when it succeeded, else what the shopper does next."""
    if intent.status == SUCCEEDED:
        settle(intent)
        status = db.session.scalar(select(Purchase.status).where(Purchase.id == purchase_id))
        db.session.rollback()
        if status in PAID_STATES:
            return Outcome(PAID_NOW)
        if status == REFUNDED:  # cancelled meanwhile: the late-payment rules (card_settlement) sent it back
            return Outcome(REFUNDED_LATE, LATE_REFUND_MESSAGE)
        if status != AWAITING_PAYMENT:
            raise NotPayable(purchase_id, status or AWAITING_PAYMENT)
        return Outcome(PENDING, PENDING_MESSAGE)  # not applied (settle logged why)
    if intent.status == "requires_action":
        return Outcome(NEEDS_ACTION, client_secret=intent.client_secret)
    if intent.status == "processing":
        return Outcome(PENDING, PENDING_MESSAGE)
    if intent.status == "canceled":
        raise NotPayable(purchase_id, "cancelled")
    return Outcome(DECLINED, failed_message)


def _unavailable(exc: stripe.StripeError, doing: str, purchase_id: int) -> PaymentUnavailable:
    log.error(
        "payment provider unavailable",
        extra={
            "purchase_id": purchase_id,
            "doing": f"{doing} #{purchase_id}",
            # The kind and code only: some of Stripe's messages quote part of the key.
            "error": f"{type(exc).__name__} (HTTP {exc.http_status}, {exc.code})",
        },
    )
    return PaymentUnavailable()
