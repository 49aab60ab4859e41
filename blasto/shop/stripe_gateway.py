"""Stripe through its official SDK: the only module that talks to the payment provider.

One `StripeClient` per app, built from the settings (keys, and the API base
a stand-in such as localstripe is reached at). Every call that makes or
moves money carries an idempotency key derived from the order, so a retry
after a lost answer cannot charge or refund twice on Stripe. The API version
is pinned: the fields read here (status, amount, currency, metadata,
latest_charge, next_action) are stable in it, and localstripe speaks it.

The card flow works with a card token from Stripe.js (`createToken`), so no
card number reaches Blasto: the server attaches the token's card to the
order's PaymentIntent and confirms it; a card that asks for 3-D Secure
leaves the intent `requires_action`, which Stripe.js completes in the page
(`confirmCardPayment`) with the client secret.
"""

from __future__ import annotations

import stripe
from flask import current_app

from blasto.shop.money import CURRENCY

API_VERSION = "2022-11-15"
NETWORK_RETRIES = 2  # the SDK retries with the same idempotency key
# Connect and read timeouts per try. The SDK's default read wait (80 s) would hold a shopper's
# request, and the order row that making its intent locks, far past the router's 30 s.
TIMEOUT_SECONDS = (5, 8)
INTENT_PREFIX, CARD_PREFIXES = "pi_", ("card_", "pm_")


def client() -> stripe.StripeClient:
    """The app's StripeClient (made on first use; Stripe must be configured)."""
    made = current_app.extensions.get("stripe")
    if made is None:
        settings = current_app.config["PAYMENTS"].stripe
        if settings is None:
            raise RuntimeError("Stripe is not configured (STRIPE_SECRET_KEY and the others are unset)")
        made = stripe.StripeClient(
            settings.secret_key,
            stripe_version=API_VERSION,
            base_addresses={"api": settings.api_base},
            max_network_retries=NETWORK_RETRIES,
            http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
        )
        current_app.extensions["stripe"] = made
    return made


def currency() -> str:
    return CURRENCY.lower()


def create_intent(purchase_id: int, amount_cents: int) -> stripe.PaymentIntent:
    """A PaymentIntent for the order's whole total; the key makes a retry return the same intent."""
    return client().v1.payment_intents.create(
        params={
            "amount": amount_cents,
            "currency": currency(),  # with this API version, cards only: the default payment method types
            "metadata": {"purchase_id": str(purchase_id)},
        },
        options={"idempotency_key": f"blasto-purchase-{purchase_id}-intent"},
    )


def retrieve_intent(intent_id: str) -> stripe.PaymentIntent:
    return client().v1.payment_intents.retrieve(intent_id)


def pay_with_card(intent_id: str, card_id: str) -> stripe.PaymentIntent:
    """Attach the card from a Stripe.js token and confirm: `succeeded`, `requires_action` (3-D Secure), or CardError."""
    intents = client().v1.payment_intents
    intents.update(intent_id, params={"payment_method": card_id})
    return intents.confirm(intent_id)


def card_of_token(token_id: str) -> str:
    """The card a Stripe.js token (tok_...) carries, for clients that send the token rather than its card's id."""
    card = client().v1.tokens.retrieve(token_id).card
    if card is None:
        raise stripe.InvalidRequestError(f"token {token_id} carries no card", "card_token")
    return card.id


def cancel_intent(intent_id: str) -> stripe.PaymentIntent:
    """Stop an unpaid intent from ever being paid (the order expired or was cancelled)."""
    return client().v1.payment_intents.cancel(intent_id)


def refund(intent_id: str, purchase_id: int, amount_cents: int | None = None) -> stripe.Refund:
    """Send an order's money back (all of it unless `amount_cents`); once per order, whatever the retries."""
    params: dict = {"payment_intent": intent_id, "metadata": {"purchase_id": str(purchase_id)}}
    if amount_cents is not None:
        params["amount"] = amount_cents
    return client().v1.refunds.create(
        params=params,  # type: ignore[arg-type]
        options={"idempotency_key": f"blasto-purchase-{purchase_id}-refund"},
    )


def refunds_of(intent_id: str) -> list[stripe.Refund]:
    """The refunds made of the payment so far, newest first (ours and any made in Stripe's dashboard)."""
    return list(client().v1.refunds.list(params={"payment_intent": intent_id, "limit": 100}).data)
