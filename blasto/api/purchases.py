"""Orders: buy books, list your purchases, read one, pay one by card.

A card order (Stripe configured) carries in its `payment` the publishable
key for Stripe.js and, to its owner while it awaits payment, the intent's
client secret. The client tokenises the card with Stripe.js and posts the
token's id to /payment; a bank that asks for 3-D Secure gives a 202 with the
client secret for Stripe.js's confirmCardPayment, after which a GET of the
order asks Stripe and shows it paid (blasto.shop.card_checkout).

The list is the API's busiest read, so it skips marshmallow on the way out
(the schema still documents it) and reads through blasto.shop.history's fixed
Core queries.
"""

from __future__ import annotations

from flask import Response, g, jsonify, url_for
from flask_smorest import Blueprint
from werkzeug.exceptions import HTTPException

from blasto.api import URL_PREFIX, abort
from blasto.api.auth import token_auth
from blasto.api.json_body import require_json_body
from blasto.api.pagination import envelope
from blasto.api.schemas import (
    CardPaymentSchema,
    IdempotencyHeaderSchema,
    PageArgsSchema,
    PurchaseCreateSchema,
    PurchaseDetailSchema,
    PurchasePageSchema,
)
from blasto.models.base import ID_CONVERTER
from blasto.models.purchase import AWAITING_PAYMENT, SHOPPER, STRIPE
from blasto.outbox.records import receipt_state
from blasto.shop import card_checkout
from blasto.shop.card_settlement import SUCCEEDED
from blasto.shop.checkout import (
    CheckoutError,
    IdempotencyMismatch,
    InsufficientStock,
    Shipping,
    UnknownProducts,
    place_order,
)
from blasto.shop.history import purchase_detail, purchase_page
from blasto.shop.money import CURRENCY, format_cents
from blasto.shop.orders import CANCEL, NoSuchOrder, NotAllowed, history, move
from blasto.shop.payments import payment_for
from blasto.shop.shipping import UnknownShippingOption, default_option, option_named
from blasto.web.errors import RETRY_AFTER_SECONDS

blp = Blueprint("purchases", __name__, url_prefix=f"{URL_PREFIX}/purchases", description="Your orders")
blp.before_request(require_json_body)


class PaymentRequired(HTTPException):
    """402, which werkzeug (and so abort) does not know: a declined card, with Stripe's message for the shopper."""

    code = 402

    def __init__(self, message: str):
        super().__init__(description=message)
        self.data = {"message": message, "errors": {"json": {"card_token": [message]}}}


def purchase_url(purchase_id: int) -> str:
    return url_for("purchases.get_purchase", purchase_id=purchase_id)


def purchase_json(purchase: dict, collection_url: str | None = None) -> dict:
    """The purchase as the API shows it; a page passes its collection's URL so its links cost no url_for each."""
    self_url = f"{collection_url}/{purchase['id']}" if collection_url else purchase_url(purchase["id"])
    return {
        "id": purchase["id"],
        "status": purchase["status"],
        "created_at": purchase["created_at"].isoformat(),
        "lines_total_cents": purchase["total_cents"] - purchase["shipping"]["cents"],
        "shipping": {**purchase["shipping"], "display": format_cents(purchase["shipping"]["cents"])},
        "shipping_address": purchase["address"],
        "total_cents": purchase["total_cents"],
        "total_display": format_cents(purchase["total_cents"]),
        "currency": CURRENCY,
        "items": purchase["items"],
        "_links": {"self": self_url},
    }


def purchase_detail_json(purchase: dict, card_state: tuple[str, str | None] | None = None) -> dict:
    """The order with its payment, shipment, history and receipt; `card_state` is its intent's (status, client secret)."""
    receipt = receipt_state(purchase["id"])
    if receipt is not None:
        sent_at = receipt["sent_at"]
        receipt = {"state": receipt["state"], "sent_at": sent_at.isoformat() if sent_at else None}
    payment = payment_for(purchase)
    if card_state is not None and purchase["status"] == AWAITING_PAYMENT:
        payment["status"], payment["client_secret"] = card_state
    shipment = (
        {"carrier": purchase["carrier"], "tracking_number": purchase["tracking_number"]}
        if purchase["carrier"]
        else None
    )
    return {
        **purchase_json(purchase),
        "payment": {**payment, "due_by": payment["due_by"].isoformat() if payment["due_by"] else None},
        "shipment": shipment,
        "history": [
            {
                "at": event["at"].isoformat(),
                "from_status": event["from"],
                "to_status": event["to"],
                "cause": event["cause"],
                "note": event["note"],
            }
            for event in history(purchase["id"])
        ],
        "receipt": receipt,
    }


@blp.get("")
@token_auth(blp)
@blp.arguments(PageArgsSchema(), location="query")  # an instance: from a class webargs builds one per request
@blp.alt_response(200, schema=PurchasePageSchema, success=True, description="Your purchases, newest first")
def list_purchases(args):
    """Your purchases, newest first, with their lines."""
    page, per_page = args["page"], args["per_page"]
    purchases, total = purchase_page(g.user_id, page, per_page)
    collection_url = url_for("purchases.list_purchases")
    items = [purchase_json(p, collection_url) for p in purchases]
    return jsonify(envelope(items, page, per_page, total, "purchases.list_purchases"))


@blp.get(f"/<{ID_CONVERTER}:purchase_id>")
@token_auth(blp)
@blp.alt_response(200, schema=PurchaseDetailSchema, success=True, description="One purchase, with its receipt's state")
@blp.alt_response(404, response="NOT_FOUND")
def get_purchase(purchase_id: int):
    """One of your purchases with its state, how to pay it and its history (anyone else's is a 404)."""
    detail = current_detail(purchase_id)
    if detail is None:
        abort(404, message=f"You have no purchase {purchase_id}.")
    return jsonify(detail)


def current_detail(purchase_id: int) -> dict | None:
    """The user's order as JSON; a card order awaiting payment asks Stripe for its intent (settled if paid)."""
    purchase = purchase_detail(g.user_id, purchase_id)
    if purchase is None or purchase["payment_method"] != STRIPE or purchase["status"] != AWAITING_PAYMENT:
        return purchase_detail_json(purchase) if purchase is not None else None
    state = card_checkout.intent_state(purchase_id)
    if state is not None and state[0] == SUCCEEDED:
        purchase = purchase_detail(g.user_id, purchase_id)  # settled just now (or by someone quicker)
        assert purchase is not None
    return purchase_detail_json(purchase, state)


@blp.post("")
@token_auth(blp)
@blp.arguments(IdempotencyHeaderSchema, location="headers")
@blp.arguments(PurchaseCreateSchema)
@blp.alt_response(
    201, schema=PurchaseDetailSchema, success=True, description="The purchase (also for a replayed Idempotency-Key)"
)
@blp.alt_response(409, response="CONFLICT", description="Not enough stock; `errors` names each short line")
@blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
@blp.alt_response(429, response="TOO_MANY_REQUESTS")  # rate limited: blasto.security.rate_limits
def create_purchase(headers, body):
    """Buy books, shipped to an address by one of the shop's options. Prices come from the shop, never the request."""
    lines = body["items"]
    order = {line["product_id"]: line["quantity"] for line in lines}
    index = {line["product_id"]: str(position) for position, line in enumerate(lines)}
    try:
        option = option_named(body["shipping_option"]) if body["shipping_option"] is not None else default_option()
    except UnknownShippingOption as exc:
        abort(422, message=str(exc), errors={"json": {"shipping_option": [str(exc)]}})
    try:
        purchase, created = place_order(
            g.user_id, order, Shipping(body["shipping_address"], option), headers["idempotency_key"]
        )
    except UnknownProducts as exc:
        abort(
            422,
            message=str(exc),
            errors={
                "json": {"items": {index[pid]: {"product_id": ["No book with this id."]} for pid in exc.product_ids}}
            },
        )
    except InsufficientStock as exc:
        abort(
            409,
            message=str(exc),
            errors={"json": {"items": {index[s.product_id]: {"quantity": [s.message()]} for s in exc.shortages}}},
        )
    except IdempotencyMismatch as exc:
        abort(422, message=str(exc), errors={"headers": {"Idempotency-Key": [str(exc)]}})
    except CheckoutError as exc:
        abort(422, message=str(exc))
    detail = current_detail(purchase.id)
    assert detail is not None  # this user has just placed it
    response = jsonify(detail)
    response.status_code = 201
    response.headers["Location"] = purchase_url(purchase.id)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@blp.post(f"/<{ID_CONVERTER}:purchase_id>/cancel")
@token_auth(blp)
@blp.alt_response(200, schema=PurchaseDetailSchema, success=True, description="The order, cancelled or refunded")
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(
    409, response="CONFLICT", description="The order's state does not allow it (shipped, or already closed)"
)
@blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
def cancel_purchase(purchase_id: int):
    """Cancel one of your orders that has not shipped: unpaid, it is cancelled; paid, it is refunded. No body."""
    try:
        move(purchase_id, CANCEL, SHOPPER, actor_id=g.user_id, owner_id=g.user_id)
    except NoSuchOrder:
        abort(404, message=f"You have no purchase {purchase_id}.")
    except NotAllowed as exc:
        abort(409, message=str(exc), errors={"status": [f"The order is {exc.status}."]})
    detail = purchase_detail(g.user_id, purchase_id)
    assert detail is not None  # this user's own order, just moved
    return jsonify(purchase_detail_json(detail))


@blp.post(f"/<{ID_CONVERTER}:purchase_id>/payment")
@token_auth(blp)
@blp.arguments(CardPaymentSchema)
@blp.alt_response(200, schema=PurchaseDetailSchema, success=True, description="Paid: the order, now paid")
@blp.alt_response(
    202,
    schema=PurchaseDetailSchema,
    description="The bank asks for 3-D Secure: run Stripe.js's confirmCardPayment(payment.client_secret), "
    "then GET the order, which asks Stripe and shows it paid. Also: the payment is still processing",
)
@blp.alt_response(402, response="PAYMENT_REQUIRED", description="The card was declined; `message` is Stripe's")
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(
    409,
    response="CONFLICT",
    description="The order is not awaiting a card payment (paid, cancelled, or paid by bank transfer): nothing "
    "charged; or it was cancelled while the card was charged, and the money goes back",
)
@blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
@blp.alt_response(
    503,
    response="SERVICE_UNAVAILABLE",
    description="Stripe cannot be reached: nothing was charged, the order still awaits payment; retry after Retry-After",
)
def pay_purchase(body, purchase_id: int):
    """Pay one of your card orders with a card tokenised by Stripe.js (never a card number)."""
    try:
        outcome = card_checkout.pay(purchase_id, g.user_id, body["card_token"])
    except NoSuchOrder:
        abort(404, message=f"You have no purchase {purchase_id}.")
    except card_checkout.NotPayable as exc:
        abort(409, message=str(exc), errors={"status": [f"The order is {exc.status}."]})
    except card_checkout.BadCard as exc:
        abort(422, message=str(exc), errors={"json": {"card_token": [str(exc)]}})
    except card_checkout.PaymentUnavailable as exc:
        abort(503, message=str(exc), headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    if outcome.kind == card_checkout.DECLINED:
        raise PaymentRequired(outcome.message)
    if outcome.kind == card_checkout.REFUNDED_LATE:
        abort(409, message=outcome.message, errors={"status": ["The order is refunded."]})
    purchase = purchase_detail(g.user_id, purchase_id)
    assert purchase is not None  # this user's own order, just paid or waiting
    if outcome.kind == card_checkout.PAID_NOW:
        return jsonify(purchase_detail_json(purchase))
    # 3-D Secure: the secret for Stripe.js; else the payment is processing (the order shows paid once it is in).
    state = (
        (card_checkout.NEEDS_ACTION, outcome.client_secret)
        if outcome.kind == card_checkout.NEEDS_ACTION
        else ("processing", None)
    )
    response: Response = jsonify(purchase_detail_json(purchase, state))
    response.status_code = 202
    return response
