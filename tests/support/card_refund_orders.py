"""Card orders for the refund tests: a real checkout's order, paid (or not) through localstripe.

The checkout that makes card orders is built beside this work, so these
helpers place an order the way the shop does (stock taken, e-mail owed),
then give it a PaymentIntent at the stand-in and mark it a card order
straight in the database, as the card checkout will.
"""

from __future__ import annotations

from datetime import timedelta

import stripe
from sqlalchemy import select, update

from blasto.core.extensions import db
from blasto.core.payment_settings import PaymentSettings, StripeSettings
from blasto.models import CardRefund, OutboxMessage, Purchase, PurchaseEvent
from blasto.models.base import utcnow
from blasto.models.purchase import STRIPE
from blasto.shop import stripe_gateway
from blasto.shop.checkout import place_order
from tests.support.factories import shipping
from tests.support.payment_stand_in import PUBLISHABLE_KEY, SECRET_KEY, PaymentStandIn

WEBHOOK_SECRET = "whsec_blasto_refund_tests"
GOOD_CARD = "4242424242424242"


def use_stand_in(app, stand_in: PaymentStandIn, api_base: str | None = None) -> None:
    """Turn card payments on in `app`, its Stripe client pointed at the stand-in (or at `api_base`: a proxy to it)."""
    app.config["PAYMENTS"] = PaymentSettings(
        method=STRIPE,
        stripe=StripeSettings(
            secret_key=SECRET_KEY,
            publishable_key=PUBLISHABLE_KEY,
            webhook_secret=WEBHOOK_SECRET,
            api_base=api_base or stand_in.api_base,
            js_url=f"{stand_in.api_base}/js.stripe.com/v3/",
        ),
    )
    app.extensions.pop("stripe", None)


def place_card_order(app, user_id: int, lines: dict[int, int]) -> tuple[int, str]:
    """A checkout's order (stock taken), a card order with the PaymentIntent the checkout made: (purchase id, intent id)."""
    with app.app_context():
        purchase, _ = place_order(user_id, lines, shipping())
        purchase_id, method, intent_id = purchase.id, purchase.payment_method, purchase.payment_intent_id
        db.session.rollback()
    assert method == STRIPE and intent_id, "card payments are on (use_stand_in) and Stripe answered the checkout"
    return purchase_id, intent_id


def pay(app, stand_in: PaymentStandIn, intent_id: str, number: str = GOOD_CARD) -> stripe.PaymentIntent:
    """What the shopper's browser and the server do together: a Stripe.js token's card, then confirm."""
    card = stand_in.card_token(number)["card"]["id"]
    with app.app_context():
        intent = stripe_gateway.pay_with_card(intent_id, card)
        assert intent.status == "succeeded", intent.status
        return intent


def make_old(app, purchase_id: int, hours: float) -> None:
    with app.app_context():
        db.session.execute(
            update(Purchase).where(Purchase.id == purchase_id).values(created_at=utcnow() - timedelta(hours=hours))
        )
        db.session.commit()


def status_of(app, purchase_id: int) -> str:
    with app.app_context():
        return db.session.scalar(select(Purchase.status).where(Purchase.id == purchase_id))


def emails_owed(app, purchase_id: int) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(OutboxMessage.kind).where(OutboxMessage.purchase_id == purchase_id).order_by(OutboxMessage.id)
            )
        )


def history_of(app, purchase_id: int) -> list[tuple[str | None, str, str, str | None]]:
    """(from, to, cause, note) of each history row, oldest first."""
    with app.app_context():
        return [
            (row.from_status, row.to_status, row.cause, row.note)
            for row in db.session.scalars(
                select(PurchaseEvent).where(PurchaseEvent.purchase_id == purchase_id).order_by(PurchaseEvent.id)
            )
        ]


def refund_row(app, purchase_id: int) -> dict | None:
    with app.app_context():
        row = db.session.scalar(select(CardRefund).where(CardRefund.purchase_id == purchase_id))
        if row is None:
            return None
        return {
            "refund_id": row.refund_id,
            "amount_cents": row.amount_cents,
            "attempts": row.attempts,
            "last_error": row.last_error,
        }


def refunds_at_stand_in(stand_in: PaymentStandIn, intent_id: str) -> list[stripe.Refund]:
    """The refunds Stripe (the stand-in) holds for the payment, asked with a client of the test's own."""
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": stand_in.api_base})
    return list(client.v1.refunds.list(params={"payment_intent": intent_id}).data)


def charge_at_stand_in(stand_in: PaymentStandIn, intent_id: str) -> stripe.Charge:
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": stand_in.api_base})
    charge = client.v1.payment_intents.retrieve(intent_id).latest_charge
    if isinstance(charge, str):  # Stripe gives its id; localstripe the charge itself
        charge = client.v1.charges.retrieve(charge)
    assert charge is not None, f"{intent_id} has no charge"
    return charge


def refund_at_stand_in(stand_in: PaymentStandIn, intent_id: str, amount_cents: int | None = None) -> stripe.Refund:
    """A refund made in Stripe's dashboard: not by the shop, and without its metadata."""
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": stand_in.api_base})
    params: dict = {"payment_intent": intent_id}
    if amount_cents is not None:
        params["amount"] = amount_cents
    return client.v1.refunds.create(params=params)  # type: ignore[arg-type]
