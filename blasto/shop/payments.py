"""How an order is paid: today only by hand (bank transfer, cash), recorded by an admin.

The one seam a payment provider plugs into: `payment_for` says what a
shopper needs to pay an order (the API's `payment` object, the order page,
the order-placed e-mail), and `PAYMENT_METHODS` names the modes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app

from blasto.models.purchase import AWAITING_PAYMENT, MANUAL
from blasto.shop.money import format_cents

PAYMENT_METHODS = (MANUAL,)


def payment_deadline(created_at: datetime) -> datetime:
    """When an unpaid order placed at `created_at` is cancelled and its stock released."""
    return created_at + timedelta(seconds=current_app.config["PAYMENT_TIMEOUT_SECONDS"])


def instructions(purchase_id: int, total_cents: int, created_at: datetime) -> str:
    """PAYMENT_INSTRUCTIONS filled in for one order."""
    deadline = payment_deadline(created_at).astimezone(UTC).strftime("%d %b %Y, %H:%M UTC")
    return current_app.config["PAYMENT_INSTRUCTIONS"].format(
        order=f"#{purchase_id}", total=format_cents(total_cents), deadline=deadline
    )


def payment_for(purchase: dict) -> dict:
    """{method, instructions, due_by}: instructions and due date only while the payment is awaited."""
    awaited = purchase["status"] == AWAITING_PAYMENT
    return {
        "method": purchase.get("payment_method", MANUAL),
        "instructions": instructions(purchase["id"], purchase["total_cents"], purchase["created_at"])
        if awaited
        else None,
        "due_by": payment_deadline(purchase["created_at"]) if awaited else None,
    }
