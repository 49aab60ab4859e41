"""Card orders for the tests, paid (or not) at a real localstripe, and Stripe's webhooks as Stripe signs them.

An order is made with the factories (no checkout: that is another module's
subject), then given a PaymentIntent at the stand-in and marked as paid by
card, as the checkout does. `signed_headers` builds the Stripe-Signature
header the way Stripe does (HMAC-SHA256 of "<timestamp>.<body>" with the
endpoint's secret), so the webhook route is tested with real signatures.
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import secrets
import threading
import time
from typing import Self

import pytest
from sqlalchemy import select, update

from blasto.core.config import database_uri, engine_options
from blasto.core.extensions import db
from blasto.core.payment_settings import STRIPE, PaymentSettings, StripeSettings
from blasto.models import PaymentEvent, Purchase
from blasto.models.purchase import AWAITING_PAYMENT
from blasto.shop import stripe_gateway
from tests.support.factories import make_purchase
from tests.support.payment_stand_in import PUBLISHABLE_KEY, SECRET_KEY, PaymentStandIn
from tests.support.processes import free_port

WEBHOOK_SECRET = "whsec_blasto_tests"
WEBHOOK_PATH = "/webhooks/stripe"
PAYS, DECLINED = "4242424242424242", "4000000000000341"


@pytest.fixture
def card_shop(app_factory, migrated_postgres, stand_in):
    """The shop on Postgres (the claim's SKIP LOCKED is Postgres's) with card payments at the stand-in."""
    uri = database_uri(migrated_postgres, None)
    return app_factory(
        SQLALCHEMY_DATABASE_URI=uri, SQLALCHEMY_ENGINE_OPTIONS=engine_options(uri, 5), **stripe_config(stand_in)
    )


def stripe_config(stand_in: PaymentStandIn) -> dict:
    """App config overrides that turn card payments on, against the stand-in."""
    settings = StripeSettings(
        secret_key=SECRET_KEY,
        publishable_key=PUBLISHABLE_KEY,
        webhook_secret=WEBHOOK_SECRET,
        api_base=stand_in.api_base,
        js_url=f"{stand_in.api_base}/js.stripe.com/v3/",
    )
    return {"PAYMENTS": PaymentSettings(STRIPE, settings)}


def stripe_env(stand_in: PaymentStandIn) -> dict[str, str]:
    """The same, as the environment of a process stack."""
    return {
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": stand_in.api_base,
        "STRIPE_JS_URL": f"{stand_in.api_base}/js.stripe.com/v3/",
    }


def make_card_order(app, user_id: int, book: int, *, amount_cents: int | None = None, age_seconds: float = 0):
    """(order id, intent id): an order awaiting card payment, its intent made at Stripe for its total
    (or for `amount_cents`, to make one that does not match)."""
    purchase_id = make_purchase(app, user_id, {book: 1}, age_days=age_seconds / 86400, status=AWAITING_PAYMENT)
    with app.app_context():
        total = db.session.scalar(select(Purchase.total_cents).where(Purchase.id == purchase_id))
        intent = stripe_gateway.create_intent(purchase_id, total if amount_cents is None else amount_cents)
        db.session.execute(
            update(Purchase)
            .where(Purchase.id == purchase_id)
            .values(payment_method=STRIPE, payment_intent_id=intent.id)
        )
        db.session.commit()
    return purchase_id, intent.id


def pay(app, stand_in: PaymentStandIn, intent_id: str, number: str = PAYS) -> str:
    """Pay the intent at the stand-in with a test card, as the browser's token and the server's confirm would."""
    card = stand_in.card_token(number)["card"]["id"]
    with app.app_context():
        return stripe_gateway.pay_with_card(intent_id, card).status


def intent_status(app, intent_id: str) -> str:
    with app.app_context():
        return stripe_gateway.retrieve_intent(intent_id).status


def event_body(kind: str, object_id: str, event_id: str | None = None, **fields) -> str:
    """A Stripe event's JSON, as Stripe sends it (only the fields the shop reads are guaranteed)."""
    event = {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": {"id": object_id, **fields}},
    }
    return json.dumps(event, indent=2)


def signed_headers(body: str | bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Stripe-Signature as Stripe makes it: t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<body>")."""
    stamp = int(time.time()) if timestamp is None else timestamp
    raw = body.encode() if isinstance(body, str) else body
    digest = hmac.new(secret.encode(), b"%d." % stamp + raw, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={stamp},v1={digest}", "Content-Type": "application/json; charset=utf-8"}


def post_event(client, body: str | bytes, **signing):
    """POST a signed event to the webhook route through a Flask test client."""
    return client.post(WEBHOOK_PATH, data=body, headers=signed_headers(body, **signing))


def status_of(app, purchase_id: int) -> str:
    with app.app_context():
        return db.session.scalar(select(Purchase.status).where(Purchase.id == purchase_id))


def stored_events(app) -> list[dict]:
    """Every stored payment event, oldest first, with what the worker made of it."""
    with app.app_context():
        rows = db.session.execute(
            select(
                PaymentEvent.id,
                PaymentEvent.event_id,
                PaymentEvent.type,
                PaymentEvent.object_id,
                PaymentEvent.applied_at,
                PaymentEvent.outcome,
            ).order_by(PaymentEvent.id)
        ).all()
        return [row._asdict() for row in rows]


class CapturedWebhooks(http.server.ThreadingHTTPServer):
    """An endpoint for localstripe's webhooks that keeps each (body, Stripe-Signature), to replay them."""

    def __init__(self):
        self.received: list[tuple[bytes, str]] = []
        super().__init__(("127.0.0.1", free_port()), _Keep)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}{WEBHOOK_PATH}"

    def __enter__(self) -> Self:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.shutdown()
        self.server_close()

    def of_type(self, kind: str) -> list[tuple[bytes, str]]:
        return [(body, signature) for body, signature in self.received if json.loads(body)["type"] == kind]


class _Keep(http.server.BaseHTTPRequestHandler):
    server: CapturedWebhooks

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((body, self.headers.get("Stripe-Signature", "")))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def run_task(app, name: str, *args):
    """Run one task here and now, as a worker would (in the app's context); returns its result."""
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()  # the task modules in `imports`, as a worker loads them
    return celery.tasks[name].apply(args=args).get()
