"""POST /webhooks/stripe: Stripe's events, checked, stored once and answered at once; the worker applies them.

Stripe proves who sent an event with its signature (HMAC of the timestamp and
the raw body with the endpoint's secret, `STRIPE_WEBHOOK_SECRET`), so the route
has no session, no cookie and no CSRF token, and no rate limit: Stripe's
retries must always get through. A signature that does not verify, or one
older than five minutes (a replay), is a 400, and so is a signed body that is
not an event. A verified event is stored (a redelivery finds it and changes
nothing) and answered with 200 before anything slow happens; its task is
queued after the response, and if the broker is down the card sweep applies it.
"""

from __future__ import annotations

import logging

import stripe
from flask import current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from blasto.shop.card_events import NotAnEvent, parse, store
from blasto.shop.card_tasks import publish_after_response
from blasto.webhooks import bp

# Stripe's events are a few kilobytes; a body far larger is not one of them.
MAX_BODY_BYTES = 256 * 1024
TOLERANCE_SECONDS = 300  # Stripe's own default: an older signature is refused as a replay

log = logging.getLogger(__name__)


def refuse(status: int, error: str, message: str):
    log.info("stripe webhook refused", extra={"status": status, "error": error})
    response = jsonify(error=error, message=message)
    response.status_code = status
    return response


@bp.errorhandler(HTTPException)
def plain_error(exc: HTTPException):
    """Errors raised while reading the body (413 above all) answer in JSON, like the route's own."""
    slug = (exc.name or "error").lower().replace(" ", "_")
    return refuse(exc.code or 500, slug, exc.description or "")


@bp.post("/stripe")
def stripe_event():
    request.max_content_length = MAX_BODY_BYTES  # a 413 before the body is read, when its length says so
    body = request.get_data(cache=False)
    settings = current_app.config["PAYMENTS"].stripe
    if settings is None:
        return refuse(404, "not_found", "card payments are not configured on this shop")
    try:
        payload = body.decode("utf-8")
    except UnicodeDecodeError:
        return refuse(400, "bad_body", "the body is not UTF-8")
    try:
        stripe.WebhookSignature.verify_header(
            payload, request.headers.get("Stripe-Signature"), settings.webhook_secret, tolerance=TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError as error:
        if "tolerance" in str(error):
            return refuse(400, "stale_signature", f"the signature is older than {TOLERANCE_SECONDS} seconds")
        return refuse(400, "bad_signature", "the Stripe-Signature header is missing or does not match the body")
    try:
        received = parse(payload)
    except NotAnEvent as error:
        return refuse(400, "not_an_event", str(error))
    row_id = store(received)
    log.info(
        "stripe webhook stored" if row_id else "stripe webhook received again",
        extra={"event_id": received.event_id, "type": received.type, "payment_event": row_id},
    )
    if row_id is None:
        return jsonify(received=True, duplicate=True)
    publish_after_response([row_id])
    return jsonify(received=True)
