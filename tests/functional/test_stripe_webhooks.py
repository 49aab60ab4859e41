"""Stripe's webhooks at POST /webhooks/stripe, and the worker that applies them, against a real localstripe.

The events are the stand-in's own where they can be (captured and replayed
byte for byte with its signature), else built and signed here as Stripe signs
them. The worker's task runs in-process; the queue it would come from is the
test app's embedded broker, read back to show the web process queued it.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from blasto.core.extensions import db
from blasto.models import PurchaseEvent
from blasto.shop import stripe_gateway
from blasto.shop.card_events import apply
from blasto.shop.card_tasks import APPLY_TASK
from tests.support.card_orders import (  # noqa: F401  (fixtures)
    WEBHOOK_PATH,
    CapturedWebhooks,
    card_shop,
    event_body,
    make_card_order,
    pay,
    post_event,
    run_task,
    signed_headers,
    status_of,
    stored_events,
    stripe_config,
)
from tests.support.embedded_broker import queued_tasks
from tests.support.factories import make_book, make_user
from tests.support.processes import wait_for
from tests.support.report_databases import sqlite_copy

pytestmark = pytest.mark.processes

WEBHOOK_DEADLINE_SECONDS = 30
SUCCEEDED, FAILED = "payment_intent.succeeded", "payment_intent.payment_failed"


@pytest.fixture
def shop(card_shop):
    return card_shop


@pytest.fixture
def buyer(shop):
    return make_user(shop)


@pytest.fixture
def book(shop):
    return make_book(shop, price_cents=1199, stock=10)


def queued(tmp_path) -> list[int]:
    return [row_id for row_id, _ in queued_tasks(tmp_path, APPLY_TASK, "blasto_request_id")]


def pay_moves(app, purchase_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(PurchaseEvent)
            .where(PurchaseEvent.purchase_id == purchase_id, PurchaseEvent.to_status == "paid")
        )


def test_the_stand_ins_own_webhook_is_stored_queued_and_pays_the_order_once(shop, stand_in, buyer, book, tmp_path):
    order, intent = make_card_order(shop, buyer, book)
    with CapturedWebhooks() as captured:
        stand_in.register_webhook(captured.url, "whsec_blasto_tests")
        assert pay(shop, stand_in, intent) == "succeeded"
        [(body, signature)] = wait_for(
            lambda: captured.of_type(SUCCEEDED), WEBHOOK_DEADLINE_SECONDS, what="the succeeded webhook"
        )
    assert status_of(shop, order) == "awaiting_payment"  # nothing settled it yet: the webhook is the path here

    client = shop.test_client()
    headers = {"Stripe-Signature": signature, "Content-Type": "application/json; charset=utf-8"}
    response = client.post(WEBHOOK_PATH, data=body, headers=headers)
    assert (response.status_code, response.get_json()) == (200, {"received": True})
    assert "Set-Cookie" not in response.headers
    [stored] = stored_events(shop)
    assert (stored["type"], stored["object_id"], stored["applied_at"]) == (SUCCEEDED, intent, None)
    assert queued(tmp_path) == []  # stored and committed, but the answer has not gone yet
    response.close()
    assert queued(tmp_path) == [stored["id"]]  # queued once it had

    assert run_task(shop, APPLY_TASK, stored["id"]) == f"order #{order} paid by card ({intent})"
    assert status_of(shop, order) == "paid"

    # Stripe delivers again (it retries whatever it did not see answered): one row, one move.
    with client.post(WEBHOOK_PATH, data=body, headers=headers) as again:
        assert (again.status_code, again.get_json()) == (200, {"received": True, "duplicate": True})
    assert run_task(shop, APPLY_TASK, stored["id"]) == "already applied"
    [after] = stored_events(shop)
    assert after["applied_at"] is not None and after["outcome"] == f"order #{order} paid by card ({intent})"
    assert queued(tmp_path) == [stored["id"]]
    assert pay_moves(shop, order) == 1


def test_events_out_of_order_cannot_undo_a_payment(shop, stand_in, buyer, book):
    order, intent = make_card_order(shop, buyer, book)
    assert pay(shop, stand_in, intent) == "succeeded"
    client = shop.test_client()

    # A failure event (from an earlier declined card) arrives after the payment went through: the
    # worker reads the intent as it is now, so even this stale event settles the order as paid.
    assert post_event(client, event_body(FAILED, intent)).status_code == 200
    assert post_event(client, event_body(SUCCEEDED, intent)).status_code == 200
    failed, succeeded = stored_events(shop)
    assert run_task(shop, APPLY_TASK, failed["id"]) == f"order #{order} paid by card ({intent})"
    assert run_task(shop, APPLY_TASK, succeeded["id"]) == (f"order #{order} is paid: payment {intent} already settled")
    assert post_event(client, event_body(FAILED, intent)).status_code == 200
    late_failure = stored_events(shop)[-1]
    run_task(shop, APPLY_TASK, late_failure["id"])
    assert status_of(shop, order) == "paid"
    assert pay_moves(shop, order) == 1


def test_a_declined_card_records_the_failure_and_leaves_the_order_waiting(shop, stand_in, buyer, book):
    order, intent = make_card_order(shop, buyer, book)
    with pytest.raises(Exception, match="declined"):
        pay(shop, stand_in, intent, number="4000000000000341")
    client = shop.test_client()
    assert post_event(client, event_body(FAILED, intent)).status_code == 200
    [failed] = stored_events(shop)
    outcome = run_task(shop, APPLY_TASK, failed["id"])
    assert outcome == f"payment {intent} is requires_payment_method: order #{order} unchanged"
    assert status_of(shop, order) == "awaiting_payment"


def test_events_about_no_order_of_ours_change_nothing(shop, stand_in, buyer, book):
    order, _ = make_card_order(shop, buyer, book)
    with shop.app_context():
        stranger = stripe_gateway.create_intent(987654, 1199)  # an intent no order holds
    assert pay(shop, stand_in, stranger.id) == "succeeded"
    client = shop.test_client()
    for body in (
        event_body(SUCCEEDED, stranger.id),
        event_body(SUCCEEDED, "pi_unknown_to_stripe"),
        event_body("customer.created", "cus_123"),
        event_body("charge.refunded", "ch_1", payment_intent=stranger.id, amount=1199, amount_refunded=1199),
    ):
        assert post_event(client, body).status_code == 200
    outcomes = [run_task(shop, APPLY_TASK, row["id"]) for row in stored_events(shop)]
    assert outcomes[0] == f"no order has payment {stranger.id}: nothing changed"
    assert outcomes[1].startswith("Stripe does not show payment pi_unknown_to_stripe (")
    assert outcomes[2] == "customer.created is not an event the shop acts on: nothing changed"
    assert outcomes[3] == f"no order has payment {stranger.id}: nothing changed"
    assert all(row["applied_at"] is not None for row in stored_events(shop))
    assert status_of(shop, order) == "awaiting_payment"


def test_a_refund_made_in_stripes_dashboard_reaches_the_order_through_charge_refunded(shop, stand_in, buyer, book):
    order, intent = make_card_order(shop, buyer, book)
    assert pay(shop, stand_in, intent) == "succeeded"
    client = shop.test_client()
    assert post_event(client, event_body(SUCCEEDED, intent)).status_code == 200
    run_task(shop, APPLY_TASK, stored_events(shop)[-1]["id"])
    with shop.app_context():
        stripe_gateway.client().v1.refunds.create(params={"payment_intent": intent})  # as the dashboard would
    refunded = event_body("charge.refunded", "ch_dashboard", payment_intent=intent, amount=1199, amount_refunded=1199)
    assert post_event(client, refunded).status_code == 200
    outcome = run_task(shop, APPLY_TASK, stored_events(shop)[-1]["id"])
    assert outcome == f"order #{order} refunded at Stripe ({intent})"
    assert status_of(shop, order) == "refunded"


def test_a_payment_of_another_amount_is_recorded_not_taken(shop, stand_in, buyer, book):
    order, intent = make_card_order(shop, buyer, book, amount_cents=1)  # the order's total is 1199
    assert pay(shop, stand_in, intent) == "succeeded"
    client = shop.test_client()
    assert post_event(client, event_body(SUCCEEDED, intent)).status_code == 200
    [event] = stored_events(shop)
    outcome = run_task(shop, APPLY_TASK, event["id"])
    assert outcome == f"payment {intent} of 1 usd does not match order #{order}: not applied"
    assert status_of(shop, order) == "awaiting_payment"


def test_what_is_not_a_signed_stripe_event_is_a_short_json_400_and_stores_nothing(shop):
    client = shop.test_client()
    body = event_body(SUCCEEDED, "pi_1")

    def refused(response, status: int, error: str) -> str:
        assert response.status_code == status, response.data[:300]
        assert response.mimetype == "application/json"
        assert "Set-Cookie" not in response.headers
        assert response.get_json()["error"] == error
        return response.get_json()["message"]

    refused(post_event(client, body, secret="whsec_someone_else"), 400, "bad_signature")
    refused(client.post(WEBHOOK_PATH, data=body, content_type="application/json"), 400, "bad_signature")
    headers = signed_headers(body)
    refused(client.post(WEBHOOK_PATH, data=body.replace("pi_1", "pi_2"), headers=headers), 400, "bad_signature")
    refused(client.post(WEBHOOK_PATH, data=body, headers={"Stripe-Signature": "t=x,v1"}), 400, "bad_signature")
    stale = int(time.time()) - 301
    assert "older than 300 seconds" in refused(post_event(client, body, timestamp=stale), 400, "stale_signature")
    assert refused(post_event(client, "{not json"), 400, "not_an_event") == "the body is not JSON"
    assert refused(post_event(client, "[1, 2]"), 400, "not_an_event") == "the body is not a JSON object"
    assert refused(post_event(client, json.dumps({"type": SUCCEEDED})), 400, "not_an_event") == "the event has no id"
    refused(post_event(client, b"\xff\xfe not utf-8"), 400, "bad_body")
    huge = event_body(SUCCEEDED, "pi_1", description="x" * 300_000)
    refused(post_event(client, huge), 413, "request_entity_too_large")
    assert stored_events(shop) == []
    # The route takes only POST; a GET is the shop's ordinary 405, never a 500.
    assert client.get(WEBHOOK_PATH).status_code == 405


def test_without_stripe_configured_the_route_says_so(db_app):
    response = db_app.test_client().post(WEBHOOK_PATH, data=event_body(SUCCEEDED, "pi_1"), headers=signed_headers("x"))
    assert (response.status_code, response.get_json()["error"]) == (404, "not_found")


def test_two_workers_applying_one_event_at_once_act_once(shop, stand_in, buyer, book):
    """The claim (FOR UPDATE SKIP LOCKED, held while settle() commits): one worker acts, the other passes."""
    order, intent = make_card_order(shop, buyer, book)
    assert pay(shop, stand_in, intent) == "succeeded"
    assert post_event(shop.test_client(), event_body(SUCCEEDED, intent)).status_code == 200
    [event] = stored_events(shop)

    for _ in range(3):  # the first round acts; later rounds find it applied
        barrier = threading.Barrier(2, timeout=30)

        def work(_, barrier=barrier) -> str | None:
            with shop.app_context():
                barrier.wait()
                return apply(event["id"])

        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(work, range(2)))
        assert len([outcome for outcome in outcomes if outcome is not None]) <= 1, outcomes
    [applied] = stored_events(shop)
    assert applied["outcome"] == f"order #{order} paid by card ({intent})"
    assert pay_moves(shop, order) == 1


def test_the_embedded_sqlite_defaults_store_and_apply_events_too(app_factory, sqlite_template, tmp_path, stand_in):
    """`python3 dev.py start` runs on SQLite, which has no SKIP LOCKED: the claim still applies an event once."""
    sqlite_copy(sqlite_template, tmp_path)
    shop = app_factory(**stripe_config(stand_in))
    order, intent = make_card_order(shop, make_user(shop), make_book(shop))
    assert pay(shop, stand_in, intent) == "succeeded"
    body = event_body(SUCCEEDED, intent)
    client = shop.test_client()
    assert post_event(client, body).status_code == 200
    assert post_event(client, body).get_json() == {"received": True, "duplicate": True}
    [event] = stored_events(shop)
    assert run_task(shop, APPLY_TASK, event["id"]) == f"order #{order} paid by card ({intent})"
    assert run_task(shop, APPLY_TASK, event["id"]) == "already applied"
    assert status_of(shop, order) == "paid" and pay_moves(shop, order) == 1
