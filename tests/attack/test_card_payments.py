"""Attacks on card payments, against real localstripes: another shop's webhooks, an old signed event replayed,
and a client that names its own amount. All refused (or ignored), with nothing changed or charged wrongly.

"Another shop" is a second localstripe: a Stripe account of its own, with its own webhook secret, whose
real signed event (captured as it sent it) names an intent of its own made for our order's id and total.
"""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from blasto.core.config import database_uri, engine_options
from blasto.core.extensions import db
from blasto.models import Purchase
from blasto.shop import stripe_gateway
from blasto.shop.card_tasks import APPLY_TASK
from tests.support.api_client import ApiClient, assert_error
from tests.support.card_orders import (  # noqa: F401  (fixtures)
    WEBHOOK_PATH,
    CapturedWebhooks,
    card_shop,
    make_card_order,
    pay,
    post_event,
    run_task,
    status_of,
    stored_events,
    stripe_config,
)
from tests.support.card_payments import card_id, intent, intents_for, stripe_settings
from tests.support.factories import SHIPPING_ADDRESS, make_book, make_user
from tests.support.form_browser import Browser, log_in
from tests.support.payment_stand_in import PaymentStandIn
from tests.support.processes import wait_for
from tests.support.report_databases import sqlite_copy

pytestmark = pytest.mark.processes  # localstripe

SUCCEEDED = "payment_intent.succeeded"
OTHER_SHOPS_SECRET = "whsec_another_shop"
WEBHOOK_DEADLINE_SECONDS = 30
TOLERANCE_SECONDS = 300  # the Stripe SDK's default, which the webhook route uses


def capture_succeeded(stand_in: PaymentStandIn, secret: str, pay_it) -> tuple[bytes, str]:
    """The payment_intent.succeeded webhook the stand-in sends once `pay_it()` pays: (body, Stripe-Signature)."""
    with CapturedWebhooks() as captured:
        stand_in.register_webhook(captured.url, secret)
        pay_it()
        [(body, signature)] = wait_for(
            lambda: captured.of_type(SUCCEEDED), WEBHOOK_DEADLINE_SECONDS, what="the succeeded webhook"
        )
    return body, signature


def post_as_sent(client, body: bytes, signature: str):
    headers = {"Stripe-Signature": signature, "Content-Type": "application/json; charset=utf-8"}
    return client.post(WEBHOOK_PATH, data=body, headers=headers)


def test_a_webhook_from_another_shops_stripe_account_is_refused_and_pays_nothing(
    card_shop, stand_in, app_factory, migrated_postgres, tmp_path
):
    order, _ = make_card_order(card_shop, make_user(card_shop), make_book(card_shop, price_cents=1199, stock=3))
    with card_shop.app_context():
        total = db.session.scalar(select(Purchase.total_cents).where(Purchase.id == order))

    # Another shop, on another Stripe account, has a payment for "purchase" #order of the same amount.
    with PaymentStandIn(tmp_path / "other-account.log") as other_account:
        uri = database_uri(migrated_postgres, None)
        other_shop = app_factory(
            SQLALCHEMY_DATABASE_URI=uri,
            SQLALCHEMY_ENGINE_OPTIONS=engine_options(uri, 2),
            **stripe_config(other_account),
        )
        with other_shop.app_context():
            theirs = stripe_gateway.create_intent(order, total).id
        body, signature = capture_succeeded(
            other_account, OTHER_SHOPS_SECRET, lambda: pay(other_shop, other_account, theirs)
        )

    # Their account's real, fresh signature, replayed at our endpoint: refused, nothing stored.
    client = card_shop.test_client()
    refused = post_as_sent(client, body, signature)
    assert (refused.status_code, refused.get_json()["error"]) == (400, "bad_signature")
    assert stored_events(card_shop) == []

    # Even signed with our own secret (an endpoint registered on both accounts with one secret, say), their
    # event is checked against our account: Stripe (ours) does not know the intent, so nothing is paid.
    assert post_event(client, body).status_code == 200
    [stored] = stored_events(card_shop)
    outcome = run_task(card_shop, APPLY_TASK, stored["id"])
    assert outcome.startswith(f"Stripe does not show payment {theirs} ("), outcome
    assert status_of(card_shop, order) == "awaiting_payment"


def test_a_signed_event_replayed_after_the_tolerance_is_refused_and_a_fresh_replay_changes_nothing(card_shop, stand_in):
    order, intent_id = make_card_order(card_shop, make_user(card_shop), make_book(card_shop, stock=3))
    body, signature = capture_succeeded(stand_in, "whsec_blasto_tests", lambda: pay(card_shop, stand_in, intent_id))
    assert json.loads(body)["data"]["object"]["id"] == intent_id
    client = card_shop.test_client()

    # The same event with a valid signature made more than five minutes ago (as a captured delivery replayed
    # later carries): refused as stale, not stored, the order untouched.
    sent_at = int(time.time()) - TOLERANCE_SECONDS - 60
    stale = post_event(client, body, timestamp=sent_at)
    assert (stale.status_code, stale.get_json()["error"]) == (400, "stale_signature")
    assert stored_events(card_shop) == []
    assert status_of(card_shop, order) == "awaiting_payment"

    # The genuine delivery is taken and applied once; replaying it byte for byte is a duplicate, no second move.
    first = post_as_sent(client, body, signature)
    assert (first.status_code, first.get_json()) == (200, {"received": True})
    [stored] = stored_events(card_shop)
    assert run_task(card_shop, APPLY_TASK, stored["id"]) == f"order #{order} paid by card ({intent_id})"
    again = post_as_sent(client, body, signature)
    assert (again.status_code, again.get_json()) == (200, {"received": True, "duplicate": True})
    assert run_task(card_shop, APPLY_TASK, stored["id"]) == "already applied"
    assert len(stored_events(card_shop)) == 1 and status_of(card_shop, order) == "paid"


@pytest.fixture
def card_app(app_factory, sqlite_template, tmp_path, stand_in):
    sqlite_copy(sqlite_template, tmp_path)
    app = app_factory(PAYMENTS=stripe_settings(stand_in.api_base))
    app.config["FRONT_PAGE_TTL_SECONDS"] = 0
    return app


def order_total(app, purchase_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(Purchase.total_cents).where(Purchase.id == purchase_id))


def test_the_api_refuses_an_amount_from_the_client_and_charges_the_orders_total(card_app, stand_in):
    api = ApiClient(card_app)
    with card_app.app_context():
        buyer = api.user("buyer@example.com")
        book = make_book(card_app, "Emma", price_cents=1199, stock=5)
        items = [{"product_id": book, "quantity": 2}]
        for forged in ({"total_cents": 1}, {"amount": 1}, {"amount_cents": 1}):
            assert_error(api.buy(buyer, items, **forged), 422)
        placed = api.buy(buyer, items)
        assert placed.status_code == 201, placed.get_json()
        order = placed.get_json()["id"]
        total = order_total(card_app, order)
        assert total >= 2 * 1199

        path = f"/api/v1/purchases/{order}/payment"
        for forged in ({"amount": 1}, {"amount_cents": 1}, {"total_cents": 1}, {"currency": "jpy"}):
            response = api.http.post(path, json={"card_token": card_id(stand_in), **forged}, headers=buyer["headers"])
            assert_error(response, 422)
        [made] = intents_for(stand_in, order)
        assert (made["status"], made["amount"], made["currency"]) == ("requires_payment_method", total, "usd")

        paid = api.http.post(path, json={"card_token": card_id(stand_in)}, headers=buyer["headers"])
        assert paid.status_code == 200 and paid.get_json()["status"] == "paid", paid.get_json()
    [charged] = intents_for(stand_in, order)
    assert (charged["status"], charged["amount"], charged["currency"]) == ("succeeded", total, "usd")


def test_the_site_ignores_an_amount_from_the_client_and_charges_the_orders_total(card_app, stand_in):
    make_user(card_app, email="shopper@example.com", name="Sam Shopper")
    browser = Browser(card_app.test_client())
    log_in(browser, "shopper@example.com")
    book = make_book(card_app, "Emma", price_cents=1199, stock=3)
    browser.submit(browser.get(f"/books/{book}"), "/cart/add", {"quantity": "2"})
    checkout = browser.get("/checkout")
    forged = {"total_cents": "1", "amount": "1", "shipping_cents": "0"}
    placed = browser.client.post(
        "/checkout", data={**checkout.form("/checkout").data(SHIPPING_ADDRESS), **forged}, follow_redirects=False
    )
    assert placed.status_code in (302, 303), placed.data[:500]
    order = int(placed.headers["Location"].rsplit("/", 1)[1])
    total = order_total(card_app, order)
    assert total >= 2 * 1199
    [made] = intents_for(stand_in, order)
    assert made["amount"] == total

    page = browser.get(f"/purchases/{order}")
    action = f"/purchases/{order}/pay"
    fields = {**page.form(action).data({"card_id": card_id(stand_in)}), **forged, "currency": "jpy"}
    paid = browser.client.post(action, data=fields)
    assert paid.status_code == 303, paid.data[:500]
    assert "is paid" in browser.get(paid.headers["Location"]).text
    charged = intent(stand_in, made["id"])
    assert (charged["status"], charged["amount"], charged["currency"]) == ("succeeded", total, "usd")
    assert order_total(card_app, order) == total
