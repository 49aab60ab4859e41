"""Orders unpaid past PAYMENT_TIMEOUT: the clock's sweep cancels them (cause `timeout`) and releases their stock.

On SQLite and Postgres, running the sweep task as a worker would, here and now.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from blasto.core.extensions import db
from blasto.models import OutboxMessage, Purchase, PurchaseEvent
from blasto.models.base import utcnow
from blasto.models.purchase import ADMIN
from blasto.shop.checkout import place_order
from blasto.shop.orders import PAY, move
from blasto.shop.tasks import ORDERS_SWEEP
from tests.support.factories import make_book, make_user, shipping, stock_of
from tests.support.sweeps import heartbeat

HOUR = 3600


@pytest.fixture
def shop(database, make_app):
    app = make_app(database)
    app.config["PAYMENT_TIMEOUT_SECONDS"] = 2 * HOUR
    return app


def sweep(app) -> int:
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()
    return celery.tasks[ORDERS_SWEEP].apply().get()


def placed(user_id: int, book: int, quantity: int, hours_ago: float) -> int:
    purchase, _ = place_order(user_id, {book: quantity}, shipping())
    db.session.execute(
        update(Purchase).where(Purchase.id == purchase.id).values(created_at=utcnow() - timedelta(hours=hours_ago))
    )
    db.session.commit()
    return purchase.id


def status(purchase_id: int) -> str:
    value = db.session.scalar(select(Purchase.status).where(Purchase.id == purchase_id))
    db.session.rollback()
    return value


def test_the_sweep_cancels_only_orders_unpaid_past_the_timeout_and_puts_their_stock_back(shop):
    buyer = make_user(shop, "buyer@example.com")
    book = make_book(shop, "Emma", stock=10)
    old = placed(buyer, book, 3, hours_ago=3)
    older_but_paid = placed(buyer, book, 2, hours_ago=5)
    move(older_but_paid, PAY, ADMIN)
    recent = placed(buyer, book, 1, hours_ago=1)
    assert stock_of(shop, book) == 4

    assert sweep(shop) == 1

    assert (status(old), status(older_but_paid), status(recent)) == ("cancelled", "paid", "awaiting_payment")
    assert stock_of(shop, book) == 7
    event = db.session.scalars(
        select(PurchaseEvent).where(PurchaseEvent.purchase_id == old).order_by(PurchaseEvent.id)
    ).all()[-1]
    assert (event.from_status, event.to_status, event.cause, event.user_id) == (
        "awaiting_payment",
        "cancelled",
        "timeout",
        None,
    )
    assert event.note == "not paid in time"
    owed = db.session.scalars(select(OutboxMessage.key).where(OutboxMessage.purchase_id == old)).all()
    assert sorted(owed) == [f"cancelled:{old}", f"order_placed:{old}"]
    db.session.rollback()

    assert sweep(shop) == 0, "a second sweep finds nothing more to do"
    assert stock_of(shop, book) == 7
    assert heartbeat(shop, ORDERS_SWEEP) is not None, "the sweep stamps its heartbeat for /readyz"


def test_the_sweep_works_through_more_than_one_batch(shop, monkeypatch):
    monkeypatch.setattr("blasto.shop.orders.EXPIRY_BATCH", 2)
    buyer = make_user(shop, "buyer@example.com")
    book = make_book(shop, "Emma", stock=10)
    orders = [placed(buyer, book, 1, hours_ago=3 + n) for n in range(5)]
    assert sweep(shop) == 5
    assert {status(order) for order in orders} == {"cancelled"} and stock_of(shop, book) == 10


def test_the_clock_schedules_the_sweep_and_readyz_watches_it(shop):
    entry = shop.config["CELERY"]["beat_schedule"]["orders-sweep"]
    assert entry == {"task": ORDERS_SWEEP, "schedule": 15.0}
