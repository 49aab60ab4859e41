"""Routes a third party calls: Stripe's webhooks, verified by signature rather than by a session or a CSRF token."""

from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

from blasto.webhooks import stripe_events  # noqa: E402,F401  (routes attach to bp)
