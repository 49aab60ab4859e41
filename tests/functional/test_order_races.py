"""Moves racing on one order, on Postgres: exactly one wins, and money, stock, history and e-mails agree with it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from blasto.core.extensions import db
from blasto.models import OutboxMessage, Purchase, PurchaseEvent
from blasto.models.purchase import ADMIN, SHOPPER, TIMEOUT
from blasto.shop.checkout import place_order
from blasto.shop.orders import CANCEL, EXPIRE, PAY, NotAllowed, move
from tests.support.factories import make_admin, make_book, make_user, shipping, stock_of
from tests.support.form_browser import Browser, log_in, race

ROUNDS = 12
RACE_DEADLINE_SECONDS = 30


def at_once(app, calls) -> list[str]:
    """Run each call on its own thread in its own app context, released together: "won" or the refusal's class."""
    barrier = threading.Barrier(len(calls), timeout=RACE_DEADLINE_SECONDS)

    def run(call) -> str:
        with app.app_context():
            barrier.wait()
            try:
                call()
            except NotAllowed:
                return "refused"
            return "won"

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def place(app, user_id: int, book: int, quantity: int = 1) -> int:
    with app.app_context():
        purchase, _ = place_order(user_id, {book: quantity}, shipping())
        return purchase.id


def facts(app, purchase_id: int) -> dict:
    with app.app_context():
        status = db.session.scalar(select(Purchase.status).where(Purchase.id == purchase_id))
        kinds = sorted(db.session.scalars(select(OutboxMessage.kind).where(OutboxMessage.purchase_id == purchase_id)))
        moves = db.session.scalar(
            select(func.count()).select_from(PurchaseEvent).where(PurchaseEvent.purchase_id == purchase_id)
        )
        return {"status": status, "emails": kinds, "history": moves}


def test_a_payment_racing_the_expiry_either_pays_or_cancels_never_both(pg_app):
    buyer = make_user(pg_app)
    book = make_book(pg_app, stock=ROUNDS)
    outcomes = []
    for _ in range(ROUNDS):
        order = place(pg_app, buyer, book)
        results = at_once(
            pg_app,
            [lambda order=order: move(order, PAY, ADMIN), lambda order=order: move(order, EXPIRE, TIMEOUT)],
        )
        assert sorted(results) == ["refused", "won"], results
        found = facts(pg_app, order)
        if results[0] == "won":
            assert found == {"status": "paid", "emails": ["order_placed", "receipt"], "history": 2}
        else:
            assert found == {"status": "cancelled", "emails": ["cancelled", "order_placed"], "history": 2}
        outcomes.append(found["status"])
    # Paid orders keep their copy; each expired one put its copy back, once.
    assert stock_of(pg_app, book) == outcomes.count("cancelled")


def test_two_cancels_at_once_put_the_stock_back_once(pg_app):
    buyer = make_user(pg_app)
    book = make_book(pg_app, stock=3 * ROUNDS)
    for _ in range(ROUNDS):
        order = place(pg_app, buyer, book, quantity=3)
        results = at_once(
            pg_app,
            [
                lambda order=order: move(order, CANCEL, SHOPPER, actor_id=buyer, owner_id=buyer),
                lambda order=order: move(order, CANCEL, ADMIN),
                lambda order=order: move(order, EXPIRE, TIMEOUT),
            ],
        )
        assert sorted(results) == ["refused", "refused", "won"], results
        assert facts(pg_app, order) == {"status": "cancelled", "emails": ["cancelled", "order_placed"], "history": 2}
    assert stock_of(pg_app, book) == 3 * ROUNDS


def test_an_admin_refund_racing_a_shipment_through_the_forms_ends_in_one_of_them(pg_app):
    pg_app.config["WTF_CSRF_ENABLED"] = True
    buyer = make_user(pg_app, email="buyer@example.com")
    book = make_book(pg_app, stock=ROUNDS)
    admins = []
    for number in (1, 2):
        make_admin(pg_app, f"admin{number}@example.com")
        browser = Browser(pg_app.test_client())
        log_in(browser, f"admin{number}@example.com")
        admins.append(browser)
    ends = []
    for _ in range(ROUNDS):
        order = place(pg_app, buyer, book)
        with pg_app.app_context():
            move(order, PAY, ADMIN)
        page = f"/admin/purchases/{order}"
        ship = (
            admins[0]
            .get(page)
            .form(f"/admin/purchases/{order}/ship")
            .data({"carrier": "DHL", "tracking_number": "JD0140"})
        )
        refund = admins[1].get(page).form(f"/admin/purchases/{order}/cancel").data()
        statuses = race(
            [
                (admins[0], f"/admin/purchases/{order}/ship", ship),
                (admins[1], f"/admin/purchases/{order}/cancel", refund),
            ]
        )
        assert [status for status, _ in statuses] == [303, 303], statuses
        found = facts(pg_app, order)
        assert found["status"] in ("shipped", "refunded") and found["history"] == 3
        other = "refunded" if found["status"] == "shipped" else "shipped"
        assert other not in found["emails"] and found["status"] in found["emails"]
        ends.append(found["status"])
    assert stock_of(pg_app, book) == ends.count("refunded"), "each refund put its copy back; no shipped copy came back"
