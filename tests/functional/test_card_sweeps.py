"""The clock's side of card payments, against a real localstripe: what Stripe's webhooks did not tell.

- The card sweep settles an order Stripe shows paid when no webhook came, and
  applies a stored event whose task was lost.
- The order sweep cancels a card order's PaymentIntent at Stripe before it
  expires the order, and settles the order instead when Stripe took the money.
- Stripe unreachable: an event waits unapplied for a retry, and a card
  order's expiry waits too, rather than put back books a shopper may be
  paying for; manual orders expire on time.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from blasto.core.extensions import db
from blasto.models import PaymentEvent
from blasto.models.base import utcnow
from blasto.shop.card_tasks import APPLY_TASK, SWEEP_TASK
from blasto.shop.tasks import ORDERS_SWEEP
from tests.support.card_orders import (  # noqa: F401  (fixtures)
    card_shop,
    event_body,
    intent_status,
    make_card_order,
    pay,
    post_event,
    run_task,
    status_of,
    stored_events,
)
from tests.support.embedded_broker import queued_tasks
from tests.support.factories import make_book, make_purchase, make_user
from tests.support.sweeps import heartbeat

pytestmark = pytest.mark.processes

LONG_AGO = 10 * 60  # seconds: twice CARD_RECONCILE_AFTER_SECONDS (5 minutes), when an order is asked about again
EXPIRED = 4 * 24 * 3600  # past PAYMENT_TIMEOUT (3 days)


@pytest.fixture
def buyer(card_shop):
    return make_user(card_shop)


@pytest.fixture
def book(card_shop):
    return make_book(card_shop, price_cents=1199, stock=10)


def test_the_card_sweep_pays_an_order_whose_webhook_never_came(card_shop, stand_in, buyer, book):
    paid_unheard, _ = order_paid_at_stripe(card_shop, stand_in, buyer, book, age_seconds=LONG_AGO)
    just_paid, _ = order_paid_at_stripe(card_shop, stand_in, buyer, book, age_seconds=0)
    between_questions, _ = order_paid_at_stripe(card_shop, stand_in, buyer, book, age_seconds=LONG_AGO * 3 / 4)
    unpaid, _ = make_card_order(card_shop, buyer, book, age_seconds=LONG_AGO)

    assert run_task(card_shop, SWEEP_TASK) == 1
    assert status_of(card_shop, paid_unheard) == "paid"
    assert status_of(card_shop, just_paid) == "awaiting_payment"  # its webhook has minutes yet to come
    assert status_of(card_shop, between_questions) == "awaiting_payment"  # asked at 5 min, next at 10
    assert status_of(card_shop, unpaid) == "awaiting_payment"
    assert heartbeat(card_shop, SWEEP_TASK) is not None
    assert run_task(card_shop, SWEEP_TASK) == 0  # nothing left to settle


def test_the_card_sweep_applies_an_event_whose_task_was_lost(card_shop, stand_in, buyer, book, tmp_path):
    order, intent = order_paid_at_stripe(card_shop, stand_in, buyer, book, age_seconds=0)
    response = post_event(card_shop.test_client(), event_body("payment_intent.succeeded", intent))
    assert response.status_code == 200  # stored; left unclosed, its task is never queued (as with a broker down)
    [event] = stored_events(card_shop)
    assert run_task(card_shop, SWEEP_TASK) == 0  # a young event: its own task may still come
    assert queued_tasks(tmp_path, APPLY_TASK, "x") == []

    with card_shop.app_context():
        long_ago = utcnow() - timedelta(minutes=5)
        db.session.execute(update(PaymentEvent).where(PaymentEvent.id == event["id"]).values(received_at=long_ago))
        db.session.commit()
    assert run_task(card_shop, SWEEP_TASK) == 1
    [(row_id, _)] = queued_tasks(tmp_path, APPLY_TASK, "x")
    assert row_id == event["id"]
    run_task(card_shop, APPLY_TASK, row_id)
    assert status_of(card_shop, order) == "paid"
    [applied] = stored_events(card_shop)
    assert applied["outcome"] == f"order #{order} paid by card ({intent})"


def test_expiry_cancels_the_intent_at_stripe_first_or_settles_a_paid_one(card_shop, stand_in, buyer, book):
    unpaid, unpaid_intent = make_card_order(card_shop, buyer, book, age_seconds=EXPIRED)
    paid, _ = order_paid_at_stripe(card_shop, stand_in, buyer, book, age_seconds=EXPIRED)
    by_hand = make_purchase(card_shop, buyer, {book: 1}, age_days=EXPIRED / 86400, status="awaiting_payment")

    assert run_task(card_shop, ORDERS_SWEEP) == 2
    assert status_of(card_shop, unpaid) == "cancelled"
    assert intent_status(card_shop, unpaid_intent) == "canceled"  # nobody can pay for the books put back
    assert status_of(card_shop, paid) == "paid"  # Stripe had the money: settled, not expired
    assert status_of(card_shop, by_hand) == "cancelled"


def test_with_stripe_unreachable_events_and_card_expiries_wait(card_shop, stand_in, buyer, book, tmp_path):
    order, intent = order_paid_at_stripe(card_shop, stand_in, buyer, book, age_seconds=EXPIRED)
    by_hand = make_purchase(card_shop, buyer, {book: 1}, age_days=EXPIRED / 86400, status="awaiting_payment")
    stand_in.stop()

    with post_event(card_shop.test_client(), event_body("payment_intent.succeeded", intent)) as response:
        assert response.status_code == 200  # storing needs no Stripe: the signature is checked locally
    [event] = stored_events(card_shop)
    assert run_task(card_shop, APPLY_TASK, event["id"]) == "retry"
    [waiting] = stored_events(card_shop)
    assert (waiting["applied_at"], waiting["outcome"]) == (None, None)
    assert [row_id for row_id, _ in queued_tasks(tmp_path, APPLY_TASK, "x")] == [event["id"], event["id"]]

    assert run_task(card_shop, ORDERS_SWEEP) == 1
    assert status_of(card_shop, order) == "awaiting_payment"  # not expired: its money may be on its way
    assert status_of(card_shop, by_hand) == "cancelled"  # a manual order never waits for Stripe
    assert run_task(card_shop, SWEEP_TASK) == 0  # the reconciliation gives up for this round, and says so
    assert heartbeat(card_shop, SWEEP_TASK) is not None


def order_paid_at_stripe(app, stand_in, buyer: int, book: int, age_seconds: float) -> tuple[int, str]:
    """A card order whose intent succeeded at Stripe, with no webhook registered to tell the shop."""
    order, intent = make_card_order(app, buyer, book, age_seconds=age_seconds)
    assert pay(app, stand_in, intent) == "succeeded"
    return order, intent
