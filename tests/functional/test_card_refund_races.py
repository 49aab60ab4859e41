"""A card refund racing a shipment, on Postgres against a real localstripe: exactly one wins, and the money agrees.

Two admins post at once, through the real forms (CSRF on), one "Mark shipped" and one "Cancel and refund" on
the same paid card order, round after round. Whichever wins, the other is refused; then the worker's refund
task runs (twice, as a redelivery would). A refunded order gets exactly one refund at Stripe, of its whole
total, and its books back; a shipped one owes none and Stripe shows none. Manual orders are raced in
tests/functional/test_order_races.py; this is the card path, where the loser must not leave money owed.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import Purchase
from blasto.shop import card_refunds, stripe_gateway
from blasto.shop.card_settlement import settle
from tests.support.card_refund_orders import (
    emails_owed,
    pay,
    place_card_order,
    refund_row,
    refunds_at_stand_in,
    status_of,
    use_stand_in,
)
from tests.support.factories import make_admin, make_book, make_user, stock_of
from tests.support.form_browser import Browser, log_in, race

pytestmark = pytest.mark.processes  # localstripe

ROUNDS = 8


def run_refund_task(app, purchase_id: int) -> str:
    """The worker's refund task, run here and now as a worker would run it."""
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()
    return celery.tasks[card_refunds.MAKE_TASK].apply(args=[purchase_id]).get()


def settle_paid(app, purchase_id: int, intent_id: str) -> int:
    """What the webhook's worker does once Stripe says paid; the order's total."""
    with app.app_context():
        assert "paid by card" in settle(stripe_gateway.retrieve_intent(intent_id))
        total = db.session.scalar(select(Purchase.total_cents).where(Purchase.id == purchase_id))
    assert status_of(app, purchase_id) == "paid"
    return total


def test_an_admin_card_refund_racing_a_shipment_ends_in_one_and_the_money_agrees(pg_app, stand_in):
    use_stand_in(pg_app, stand_in)
    pg_app.config["WTF_CSRF_ENABLED"] = True
    buyer = make_user(pg_app, email="buyer@example.com")
    book = make_book(pg_app, "Emma", price_cents=1199, stock=ROUNDS)
    admins = []
    for number in (1, 2):
        make_admin(pg_app, f"admin{number}@example.com")
        browser = Browser(pg_app.test_client())
        log_in(browser, f"admin{number}@example.com")
        admins.append(browser)

    ends = []
    for _ in range(ROUNDS):
        order, intent_id = place_card_order(pg_app, buyer, {book: 1})
        pay(pg_app, stand_in, intent_id)
        total = settle_paid(pg_app, order, intent_id)
        page = f"/admin/purchases/{order}"
        ship = admins[0].get(page).form(f"{page}/ship").data({"carrier": "DHL", "tracking_number": "JD0140"})
        cancel = admins[1].get(page).form(f"{page}/cancel").data()
        statuses = race([(admins[0], f"{page}/ship", ship), (admins[1], f"{page}/cancel", cancel)])
        assert [status for status, _ in statuses] == [303, 303], statuses  # the loser is told, never a 500

        outcomes = [run_refund_task(pg_app, order) for _ in range(2)]  # a redelivered task changes nothing
        status = status_of(pg_app, order)
        refunds = refunds_at_stand_in(stand_in, intent_id)
        emails = emails_owed(pg_app, order)
        if status == "refunded":
            [refund] = refunds
            assert refund.amount == total  # the whole payment, once
            assert refund_row(pg_app, order)["refund_id"] == refund.id
            assert "made for order" in outcomes[0] and "made for order" not in outcomes[1], outcomes
            assert "refunded" in emails and "shipped" not in emails, emails
        else:
            assert status == "shipped", status
            assert refunds == [] and refund_row(pg_app, order) is None, (refunds, outcomes)
            assert "shipped" in emails and "refunded" not in emails, emails
        ends.append(status)

    assert stock_of(pg_app, book) == ends.count("refunded"), "each refund put its copy back; no shipped copy did"
