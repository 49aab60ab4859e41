"""How an order is paid: by hand (bank transfer, cash, recorded by an admin), or by card through Stripe.

The one seam a payment provider plugs into: `payment_for` says what a
shopper needs to pay an order (the API's `payment` object, the order page,
the order-placed e-mail), and `PAYMENT_METHODS` names the modes. It reads
only the settings and the order, never Stripe: the live state of a card
payment (its status and client secret) comes from blasto.shop.card_checkout.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app

from blasto.models.purchase import AWAITING_PAYMENT, CANCELLED, MANUAL, PAID, REFUNDED, SHIPPED, STRIPE
from blasto.shop.money import format_cents

PAYMENT_METHODS = (MANUAL, STRIPE)
CARD_INSTRUCTIONS = "Pay {total} by card on the order's page."
# A card order's payment status once the order has left awaiting_payment (before, Stripe's intent says).
CARD_STATUS_OF_ORDER = {PAID: "succeeded", SHIPPED: "succeeded", CANCELLED: "canceled", REFUNDED: "refunded"}


def method_for_new_orders() -> str:
    """How orders placed now are paid: by card when Stripe is configured, else by hand."""
    return current_app.config["PAYMENTS"].method


def payment_deadline(created_at: datetime) -> datetime:
    """When an unpaid order placed at `created_at` is cancelled and its stock released."""
    return created_at + timedelta(seconds=current_app.config["PAYMENT_TIMEOUT_SECONDS"])


def instructions(purchase_id: int, total_cents: int, created_at: datetime, method: str = MANUAL) -> str:
    """PAYMENT_INSTRUCTIONS filled in for one order; a card order is paid on its page instead."""
    if method == STRIPE:
        return CARD_INSTRUCTIONS.format(total=format_cents(total_cents))
    deadline = payment_deadline(created_at).astimezone(UTC).strftime("%d %b %Y, %H:%M UTC")
    return current_app.config["PAYMENT_INSTRUCTIONS"].format(
        order=f"#{purchase_id}", total=format_cents(total_cents), deadline=deadline
    )


def payment_for(purchase: dict) -> dict:
    """{method, instructions, due_by}: instructions and due date only while the payment is awaited.

    A card order adds {publishable_key, client_secret, status}: the key for
    Stripe.js; the secret and Stripe's status are the caller's to fill in from
    the intent (None here), except once the order has left awaiting_payment.
    """
    awaited = purchase["status"] == AWAITING_PAYMENT
    method = purchase.get("payment_method", MANUAL)
    payment = {
        "method": method,
        "instructions": instructions(purchase["id"], purchase["total_cents"], purchase["created_at"], method)
        if awaited
        else None,
        "due_by": payment_deadline(purchase["created_at"]) if awaited else None,
    }
    if method == STRIPE:
        stripe_settings = current_app.config["PAYMENTS"].stripe
        payment.update(
            publishable_key=stripe_settings.publishable_key if stripe_settings is not None else None,
            client_secret=None,
            status=CARD_STATUS_OF_ORDER.get(purchase["status"]),
        )
    return payment
