"""The money decisions of card payments, against a real localstripe and Postgres.

A payment that lands after its order expired is paid after all when the
books are there, else refunded; a cancelled paid card order gets its money
back through Stripe exactly once, even when Stripe is down for a while or a
commit is lost after Stripe refunded; a refund made in Stripe's dashboard
moves the order without a second refund. Manual orders keep their ways.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from blasto.core.extensions import db
from blasto.core.payment_settings import MANUAL, PaymentSettings
from blasto.models import CardRefund
from blasto.models.purchase import ADMIN, PROVIDER, SHOPPER
from blasto.shop import card_refunds, orders, stripe_gateway
from blasto.shop.card_settlement import refunded_at_provider, settle
from blasto.shop.checkout import place_order
from tests.support.card_refund_orders import (
    charge_at_stand_in,
    emails_owed,
    history_of,
    make_old,
    pay,
    place_card_order,
    refund_at_stand_in,
    refund_row,
    refunds_at_stand_in,
    status_of,
    use_stand_in,
)
from tests.support.embedded_broker import queued_tasks
from tests.support.factories import count, make_admin, make_book, make_user, shipping, stock_of
from tests.support.form_browser import Browser, log_in
from tests.support.report_databases import postgres_config
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.processes

HOUR = 3600


@pytest.fixture
def shop(database, app_factory, stand_in):
    """A migrated app on SQLite and on Postgres, paying through the stand-in."""
    app = app_factory(**(postgres_config(database) if database else {}))
    use_stand_in(app, stand_in)
    return app


@pytest.fixture
def pg_shop(pg_app, stand_in):
    """On Postgres only: the tests of workers racing (SQLite serialises its writers whole)."""
    use_stand_in(pg_app, stand_in)
    return pg_app


def run_refund_task(app, purchase_id: int) -> str:
    """The worker's refund task, run here and now as a worker would run it."""
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()
    return celery.tasks[card_refunds.MAKE_TASK].apply(args=[purchase_id]).get()


def run_refund_sweep(app) -> int:
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()
    return celery.tasks[card_refunds.SWEEP_TASK].apply().get()


def expire(app, purchase_id: int) -> None:
    """The clock's expiry, for an order placed three hours ago with a two-hour timeout.

    As released: the money lands after the expiry (a payment in flight, a race with the sweep).
    """
    make_old(app, purchase_id, hours=3)
    with app.app_context():
        assert purchase_id in orders.expire_unpaid(2 * HOUR, released={purchase_id})


def at_once(app, work, workers: int = 4) -> list:
    """`work()` in `workers` threads released together, each in an app context of its own: workers racing on one row."""
    start = threading.Barrier(workers, timeout=30)

    def run(_):
        start.wait()
        with app.app_context():
            return work()

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run, range(workers)))


def settle_now(app, stand_in, intent_id: str) -> str:
    """What the webhook worker and the sweep do: read the intent from Stripe, settle it."""
    with app.app_context():
        return settle(stripe_gateway.retrieve_intent(intent_id))


def test_a_late_payment_with_the_books_in_stock_pays_the_order_and_takes_them_again(shop, stand_in):
    buyer = make_user(shop)
    emma = make_book(shop, "Emma", price_cents=1199, stock=5)
    persuasion = make_book(shop, "Persuasion", price_cents=899, stock=1)
    purchase_id, intent_id = place_card_order(shop, buyer, {persuasion: 1, emma: 2})
    assert (stock_of(shop, emma), stock_of(shop, persuasion)) == (3, 0)
    expire(shop, purchase_id)
    assert (stock_of(shop, emma), stock_of(shop, persuasion)) == (5, 1)

    pay(shop, stand_in, intent_id)  # the shopper's card went through after the expiry
    outcome = settle_now(shop, stand_in, intent_id)

    assert "paid late" in outcome and status_of(shop, purchase_id) == "paid"
    assert (stock_of(shop, emma), stock_of(shop, persuasion)) == (3, 0)
    assert history_of(shop, purchase_id)[-1] == (
        "cancelled",
        "paid",
        "provider",
        f"payment arrived after the order expired; books reserved again (card payment {intent_id})",
    )
    assert emails_owed(shop, purchase_id) == ["order_placed", "cancelled", "receipt"]
    assert refund_row(shop, purchase_id) is None

    assert "already settled" in settle_now(shop, stand_in, intent_id)  # a repeated event
    assert (stock_of(shop, emma), stock_of(shop, persuasion)) == (3, 0)
    assert refunds_at_stand_in(stand_in, intent_id) == []


def test_a_late_payment_whose_books_are_gone_is_refunded_once_and_the_shopper_told(shop, stand_in):
    buyer, other = make_user(shop), make_user(shop, "other@example.com")
    emma = make_book(shop, "Emma", price_cents=1199, stock=3)
    persuasion = make_book(shop, "Persuasion", price_cents=899, stock=1)
    purchase_id, intent_id = place_card_order(shop, buyer, {emma: 2, persuasion: 1})
    expire(shop, purchase_id)
    with shop.app_context():
        place_order(other, {persuasion: 1}, shipping())  # the last Persuasion sells meanwhile
    assert (stock_of(shop, emma), stock_of(shop, persuasion)) == (3, 0)

    pay(shop, stand_in, intent_id)
    outcome = settle_now(shop, stand_in, intent_id)
    again = settle_now(shop, stand_in, intent_id)  # the webhook and the sweep both saw it

    assert "books are gone: refunded" in outcome and "already settled" in again
    assert status_of(shop, purchase_id) == "refunded"
    # all or none: the Emmas the first UPDATE took went back with the Persuasion it could not take
    assert (stock_of(shop, emma), stock_of(shop, persuasion)) == (3, 0)
    assert history_of(shop, purchase_id)[-1][:3] == ("cancelled", "refunded", "provider")
    assert emails_owed(shop, purchase_id) == ["order_placed", "cancelled", "refunded"]
    assert refund_row(shop, purchase_id) == {
        "refund_id": None,
        "amount_cents": 2 * 1199 + 899,
        "attempts": 0,
        "last_error": None,
    }

    first = run_refund_task(shop, purchase_id)
    second = run_refund_task(shop, purchase_id)  # a redelivered task

    assert "made for order" in first and "owes no refund" in second
    [refund] = refunds_at_stand_in(stand_in, intent_id)
    assert (refund.amount, refund.status, refund.metadata["purchase_id"]) == (3297, "succeeded", str(purchase_id))
    assert refund_row(shop, purchase_id)["refund_id"] == refund.id
    assert charge_at_stand_in(stand_in, intent_id).amount_refunded == 3297
    assert "already settled" in settle_now(shop, stand_in, intent_id)
    assert len(refunds_at_stand_in(stand_in, intent_id)) == 1
    assert (stock_of(shop, emma), stock_of(shop, persuasion)) == (3, 0)


@pytest.mark.parametrize("stock_left", [1, 0])
def test_one_late_payment_settled_by_four_workers_at_once_is_decided_once(pg_shop, stand_in, stock_left):
    buyer, other = make_user(pg_shop), make_user(pg_shop, "other@example.com")
    emma = make_book(pg_shop, "Emma", price_cents=1199, stock=2)
    purchase_id, intent_id = place_card_order(pg_shop, buyer, {emma: 2})
    expire(pg_shop, purchase_id)
    if stock_left < 2:
        with pg_shop.app_context():
            place_order(other, {emma: 2 - stock_left}, shipping())
    pay(pg_shop, stand_in, intent_id)
    with pg_shop.app_context():
        intent = stripe_gateway.retrieve_intent(intent_id)
    outcomes = at_once(pg_shop, lambda: settle(intent))

    decided = [outcome for outcome in outcomes if "already settled" not in outcome]
    assert len(decided) == 1, outcomes
    assert "books are gone: refunded" in decided[0]  # two wanted, at most one on the shelf
    assert status_of(pg_shop, purchase_id) == "refunded" and stock_of(pg_shop, emma) == stock_left
    assert count(pg_shop, CardRefund) == 1
    assert emails_owed(pg_shop, purchase_id) == ["order_placed", "cancelled", "refunded"]


def test_a_late_payment_settled_by_four_workers_at_once_takes_the_books_once(pg_shop, stand_in):
    buyer = make_user(pg_shop)
    emma = make_book(pg_shop, "Emma", price_cents=1199, stock=4)
    purchase_id, intent_id = place_card_order(pg_shop, buyer, {emma: 2})
    expire(pg_shop, purchase_id)
    pay(pg_shop, stand_in, intent_id)
    with pg_shop.app_context():
        intent = stripe_gateway.retrieve_intent(intent_id)
    outcomes = at_once(pg_shop, lambda: settle(intent))

    assert sum("paid late" in outcome for outcome in outcomes) == 1, outcomes
    assert status_of(pg_shop, purchase_id) == "paid" and stock_of(pg_shop, emma) == 2
    assert count(pg_shop, CardRefund) == 0


@pytest.mark.parametrize(("cause", "who"), [(SHOPPER, "shopper"), (ADMIN, "shop")])
def test_a_payment_after_a_person_cancelled_is_refunded_though_the_books_are_there(shop, stand_in, cause, who):
    buyer = make_user(shop)
    emma = make_book(shop, "Emma", price_cents=1199, stock=5)
    purchase_id, intent_id = place_card_order(shop, buyer, {emma: 1})
    with shop.app_context():
        orders.move(purchase_id, orders.CANCEL, cause, actor_id=buyer)
    assert stock_of(shop, emma) == 5

    pay(shop, stand_in, intent_id)
    outcome = settle_now(shop, stand_in, intent_id)

    assert f"cancelled by the {who}: refunded" in outcome
    assert status_of(shop, purchase_id) == "refunded" and stock_of(shop, emma) == 5
    assert "made for order" in run_refund_task(shop, purchase_id)
    assert [refund.amount for refund in refunds_at_stand_in(stand_in, intent_id)] == [1199]


def test_a_payment_after_the_provider_cancelled_is_taken_like_one_after_expiry(shop, stand_in):
    buyer = make_user(shop)
    emma = make_book(shop, "Emma", price_cents=1199, stock=5)
    purchase_id, intent_id = place_card_order(shop, buyer, {emma: 1})
    with shop.app_context():
        orders.move(purchase_id, orders.CANCEL, PROVIDER)

    pay(shop, stand_in, intent_id)
    outcome = settle_now(shop, stand_in, intent_id)

    assert "paid late" in outcome and status_of(shop, purchase_id) == "paid" and stock_of(shop, emma) == 4
    assert history_of(shop, purchase_id)[-1][3] == (
        f"payment arrived after the order was cancelled; books reserved again (card payment {intent_id})"
    )


@pytest.mark.parametrize("cause", [ADMIN, SHOPPER])
def test_cancelling_a_paid_card_order_sends_the_money_back_once(shop, stand_in, cause):
    buyer = make_user(shop)
    emma = make_book(shop, "Emma", price_cents=1199, stock=5)
    purchase_id, intent_id = place_card_order(shop, buyer, {emma: 2})
    pay(shop, stand_in, intent_id)
    assert "paid by card" in settle_now(shop, stand_in, intent_id)
    assert stock_of(shop, emma) == 3

    with shop.app_context():
        owner = buyer if cause == SHOPPER else None
        moved = orders.move(purchase_id, orders.CANCEL, cause, actor_id=buyer, owner_id=owner)
    assert (moved.from_status, moved.to_status) == ("paid", "refunded")
    assert stock_of(shop, emma) == 5
    assert refund_row(shop, purchase_id)["refund_id"] is None  # owed, in the move's transaction
    assert history_of(shop, purchase_id)[-1] == (
        "paid",
        "refunded",
        cause,
        "the card payment goes back through Stripe",
    )

    outcomes = [run_refund_task(shop, purchase_id) for _ in range(2)]
    assert run_refund_sweep(shop) == 0

    assert "made for order" in outcomes[0] and "owes no refund" in outcomes[1]
    [refund] = refunds_at_stand_in(stand_in, intent_id)
    assert refund.amount == 2398 and refund_row(shop, purchase_id)["refund_id"] == refund.id
    assert emails_owed(shop, purchase_id) == ["order_placed", "receipt", "refunded"]
    # Stripe tells the shop about its own refund (charge.refunded): nothing changes
    with shop.app_context():
        assert "refunded already" in refunded_at_provider(intent_id, 2398)
    assert len(refunds_at_stand_in(stand_in, intent_id)) == 1 and stock_of(shop, emma) == 5


def test_four_workers_given_one_refund_at_once_make_it_once(pg_shop, stand_in):
    buyer = make_user(pg_shop)
    emma = make_book(pg_shop, "Emma", price_cents=1199, stock=5)
    purchase_id, intent_id = place_card_order(pg_shop, buyer, {emma: 1})
    pay(pg_shop, stand_in, intent_id)
    settle_now(pg_shop, stand_in, intent_id)
    with pg_shop.app_context():
        orders.move(purchase_id, orders.CANCEL, ADMIN)
    outcomes = at_once(pg_shop, lambda: card_refunds.make(purchase_id))

    assert sum(outcome.made for outcome in outcomes) == 1, outcomes
    assert len(refunds_at_stand_in(stand_in, intent_id)) == 1
    assert refund_row(pg_shop, purchase_id)["attempts"] == 1  # the others skipped the held row


def test_a_shopper_cancelling_a_paid_card_order_on_its_page_has_the_refund_queued_after_the_response(
    shop, stand_in, tmp_path
):
    buyer = make_user(shop, "ada@example.com")
    emma = make_book(shop, "Emma", price_cents=1199, stock=5)
    purchase_id, intent_id = place_card_order(shop, buyer, {emma: 1})
    pay(shop, stand_in, intent_id)
    settle_now(shop, stand_in, intent_id)
    browser = Browser(shop.test_client())
    log_in(browser, "ada@example.com")

    page = browser.submit(browser.get(f"/purchases/{purchase_id}"), f"/purchases/{purchase_id}/cancel")

    assert page.status == 200 and "your payment will be refunded the way you paid" in page.text
    assert status_of(shop, purchase_id) == "refunded" and refund_row(shop, purchase_id)["refund_id"] is None
    [(queued_id, request_id)] = queued_tasks(tmp_path, card_refunds.MAKE_TASK, "blasto_request_id")
    assert queued_id == purchase_id and request_id  # the cancelling request's id travels to the worker
    assert "made for order" in run_refund_task(shop, purchase_id)
    assert [refund.amount for refund in refunds_at_stand_in(stand_in, intent_id)] == [1199]


def test_an_admin_cancelling_a_paid_card_order_is_told_the_money_goes_back_through_stripe(shop, stand_in):
    buyer = make_user(shop)
    make_admin(shop, "office@example.com")
    emma = make_book(shop, "Emma", price_cents=1199, stock=5)
    purchase_id, intent_id = place_card_order(shop, buyer, {emma: 1})
    pay(shop, stand_in, intent_id)
    settle_now(shop, stand_in, intent_id)
    office = Browser(shop.test_client())
    log_in(office, "office@example.com")

    page = office.submit(office.get(f"/admin/purchases/{purchase_id}"), f"/admin/purchases/{purchase_id}/cancel")

    assert page.status == 200 and "the card payment goes back through Stripe" in page.text
    assert "return the payment the way it came" not in page.text
    assert status_of(shop, purchase_id) == "refunded" and refund_row(shop, purchase_id)["refund_id"] is None


def test_with_stripe_down_the_refund_stays_owed_and_the_sweep_makes_it_later(shop, stand_in):
    with TcpProxy("127.0.0.1", stand_in.port) as stripe_link:
        use_stand_in(shop, stand_in, api_base=f"http://127.0.0.1:{stripe_link.port}")
        buyer = make_user(shop)
        emma = make_book(shop, "Emma", price_cents=1199, stock=5)
        purchase_id, intent_id = place_card_order(shop, buyer, {emma: 1})
        pay(shop, stand_in, intent_id)
        settle_now(shop, stand_in, intent_id)
        with shop.app_context():
            orders.move(purchase_id, orders.CANCEL, ADMIN)

        stripe_link.down()
        outcome = run_refund_task(shop, purchase_id)
        assert "still owed" in outcome
        owed = refund_row(shop, purchase_id)
        assert owed["refund_id"] is None and owed["attempts"] == 1 and "APIConnectionError" in owed["last_error"]
        assert run_refund_sweep(shop) == 0  # tried a moment ago: not yet again
        assert refunds_at_stand_in(stand_in, intent_id) == []

        stripe_link.up()
        with shop.app_context():
            assert card_refunds.due(60.0) == []
            assert card_refunds.due(0.0) == [purchase_id]
            assert card_refunds.sweep(after_seconds=0.0) == 1
            assert card_refunds.sweep(after_seconds=0.0) == 0

    [refund] = refunds_at_stand_in(stand_in, intent_id)
    made = refund_row(shop, purchase_id)
    assert made["refund_id"] == refund.id and made["attempts"] == 2 and made["last_error"] is None
    assert status_of(shop, purchase_id) == "refunded" and stock_of(shop, emma) == 5


def test_a_refund_made_at_stripe_before_a_lost_commit_is_recorded_not_made_again(shop, stand_in):
    buyer = make_user(shop)
    emma = make_book(shop, "Emma", price_cents=1199, stock=5)
    purchase_id, intent_id = place_card_order(shop, buyer, {emma: 1})
    pay(shop, stand_in, intent_id)
    settle_now(shop, stand_in, intent_id)
    with shop.app_context():
        orders.move(purchase_id, orders.CANCEL, ADMIN)
        # a worker refunded, then died before its commit: Stripe has the refund, the row is still owed
        lost = stripe_gateway.refund(intent_id, purchase_id)

    assert "made for order" in run_refund_task(shop, purchase_id)

    assert [refund.id for refund in refunds_at_stand_in(stand_in, intent_id)] == [lost.id]
    assert refund_row(shop, purchase_id)["refund_id"] == lost.id


def test_a_full_refund_in_stripes_dashboard_refunds_the_order_without_a_second_refund(shop, stand_in):
    buyer = make_user(shop)
    emma = make_book(shop, "Emma", price_cents=1199, stock=5)
    purchase_id, intent_id = place_card_order(shop, buyer, {emma: 2})
    pay(shop, stand_in, intent_id)
    settle_now(shop, stand_in, intent_id)
    refund_at_stand_in(stand_in, intent_id)

    with shop.app_context():
        outcome = refunded_at_provider(intent_id, 2398)
        again = refunded_at_provider(intent_id, 2398)

    assert "refunded at Stripe" in outcome and "refunded already" in again
    assert status_of(shop, purchase_id) == "refunded" and stock_of(shop, emma) == 5
    assert history_of(shop, purchase_id)[-1] == (
        "paid",
        "refunded",
        "provider",
        f"$23.98 of $23.98 refunded at Stripe ({intent_id}), not by the shop",
    )
    assert emails_owed(shop, purchase_id) == ["order_placed", "receipt", "refunded"]
    assert refund_row(shop, purchase_id) is None and count(shop, CardRefund) == 0
    assert len(refunds_at_stand_in(stand_in, intent_id)) == 1


def test_a_partial_refund_in_stripes_dashboard_is_noted_once_and_the_order_stays_paid(shop, stand_in):
    buyer = make_user(shop)
    emma = make_book(shop, "Emma", price_cents=1199, stock=5)
    purchase_id, intent_id = place_card_order(shop, buyer, {emma: 2})
    pay(shop, stand_in, intent_id)
    settle_now(shop, stand_in, intent_id)
    refund_at_stand_in(stand_in, intent_id, 500)

    with shop.app_context():
        outcome = refunded_at_provider(intent_id, 500)
        again = refunded_at_provider(intent_id, 500)
        assert "not an amount" in refunded_at_provider(intent_id, -5)
        assert "no order has payment" in refunded_at_provider("pi_unknown", 500)

    assert "noted in its history" in outcome and "noted already" in again
    assert status_of(shop, purchase_id) == "paid" and stock_of(shop, emma) == 3
    notes = [row for row in history_of(shop, purchase_id) if row[0] == row[1]]
    assert notes == [
        ("paid", "paid", "provider", f"$5.00 of $23.98 refunded at Stripe ({intent_id}); the order stays paid")
    ]
    assert emails_owed(shop, purchase_id) == ["order_placed", "receipt"]
    assert refund_row(shop, purchase_id) is None


def test_a_manual_order_cancelled_when_paid_owes_no_card_refund(shop):
    buyer = make_user(shop)
    emma = make_book(shop, "Emma", price_cents=1199, stock=5)
    card_payments = shop.config["PAYMENTS"]
    shop.config["PAYMENTS"] = PaymentSettings(MANUAL)  # placed while the shop took payment by hand
    with shop.app_context():
        purchase, _ = place_order(buyer, {emma: 1}, shipping())
        purchase_id = purchase.id
    shop.config["PAYMENTS"] = card_payments
    with shop.app_context():
        orders.move(purchase_id, orders.PAY, ADMIN)
        orders.move(purchase_id, orders.CANCEL, ADMIN)
        with pytest.raises(orders.NotAllowed):
            orders.move(purchase_id, orders.LATE_PAY, PROVIDER)
        db.session.rollback()
    assert status_of(shop, purchase_id) == "refunded" and stock_of(shop, emma) == 5
    assert history_of(shop, purchase_id)[-1][3] == "refunded outside the shop, the way it was paid (manual payment)"
    assert count(shop, CardRefund) == 0
