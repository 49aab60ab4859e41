"""A sale that takes a book below its low-stock threshold owes every admin one e-mail, once per crossing (on Postgres)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from blasto.core.extensions import db
from blasto.models import OutboxMessage, Product
from blasto.models.outbox import LOW_STOCK, PENDING
from blasto.outbox.delivery import deliver
from blasto.shop import book_edits
from blasto.shop.low_stock import crossed
from tests.support.book_records import low_stock_alerts, sell, sell_at_once
from tests.support.factories import make_admin, make_book, make_user, stock_of

ROUNDS = 5
BUYERS = 8


def set_threshold(app, book: int, threshold: int | None) -> None:
    with app.app_context():
        db.session.execute(update(Product).where(Product.id == book).values(low_stock_threshold=threshold))
        db.session.commit()


def restock(app, book: int, copies: int, admin_id: int) -> int | None:
    with app.app_context():
        return book_edits.restock(book, copies, admin_id)


@pytest.mark.parametrize(
    ("threshold", "before", "after", "expected"),
    [
        (5, 6, 5, False),  # still at the threshold: not below it
        (5, 5, 4, True),
        (5, 9, 1, True),  # one sale of many copies jumps past it
        (5, 4, 3, False),  # already below: crossed earlier
        (None, 5, 0, False),  # no threshold, no alert
        (1, 1, 0, True),
    ],
)
def test_a_crossing_is_a_take_from_the_threshold_or_more_to_fewer(threshold, before, after, expected):
    assert crossed(threshold, before, after) is expected


@pytest.fixture
def shop(pg_app) -> dict:
    """Two admins, a buyer, and a book of 8 copies that alerts below 5."""
    ada = make_admin(pg_app, email="ada@example.com", name="Ada Admin")
    bea = make_admin(pg_app, email="bea@example.com", name="Bea Admin")
    buyer = make_user(pg_app)
    book = make_book(pg_app, "Emma", stock=8)
    set_threshold(pg_app, book, 5)
    return {"app": pg_app, "ada": ada, "bea": bea, "buyer": buyer, "book": book}


def test_the_sale_that_crosses_owes_one_email_to_each_admin_and_later_sales_none(shop):
    app, book, buyer = shop["app"], shop["book"], shop["buyer"]
    sell(app, buyer, book, 3)  # 8 -> 5: at the threshold, not below
    assert low_stock_alerts(app, book) == []
    crossing = sell(app, buyer, book)  # 5 -> 4
    assert low_stock_alerts(app, book) == [
        (f"low_stock:{book}:{crossing}:{shop['ada']}", "ada@example.com"),
        (f"low_stock:{book}:{crossing}:{shop['bea']}", "bea@example.com"),
    ]
    sell(app, buyer, book)  # 4 -> 3: below already
    sell(app, buyer, book, 3)  # 3 -> 0
    assert len(low_stock_alerts(app, book)) == 2 and stock_of(app, book) == 0


def test_a_restock_to_the_threshold_rearms_the_alert_and_one_below_it_does_not(shop):
    app, book, buyer, ada = shop["app"], shop["book"], shop["buyer"], shop["ada"]
    sell(app, buyer, book, 4)  # 8 -> 4: the first crossing
    assert len(low_stock_alerts(app, book)) == 2
    assert restock(app, book, 1, ada) == 5  # back to the threshold: armed again
    second = sell(app, buyer, book, 2)  # 5 -> 3: the second crossing
    assert [key for key, _ in low_stock_alerts(app, book)][2:] == [
        f"low_stock:{book}:{second}:{shop['ada']}",
        f"low_stock:{book}:{second}:{shop['bea']}",
    ]
    assert restock(app, book, 1, ada) == 4  # still below: not armed
    sell(app, buyer, book)  # 4 -> 3
    assert len(low_stock_alerts(app, book)) == 4


def test_no_threshold_no_alert_however_low_the_stock_goes(shop):
    app, book = shop["app"], shop["book"]
    set_threshold(app, book, None)
    sell(app, shop["buyer"], book, 8)
    assert stock_of(app, book) == 0 and low_stock_alerts(app, book) == []


def test_a_retried_checkout_with_its_idempotency_key_owes_no_second_alert(shop):
    app, book, buyer = shop["app"], shop["book"], shop["buyer"]
    first = sell(app, buyer, book, 4, idempotency_key="order-1")
    again = sell(app, buyer, book, 4, idempotency_key="order-1")
    assert first == again and stock_of(app, book) == 4 and len(low_stock_alerts(app, book)) == 2


def test_a_refused_sale_owes_nothing(shop):
    app, book, buyer = shop["app"], shop["book"], shop["buyer"]
    with pytest.raises(Exception, match="Only 8 left"):
        sell(app, buyer, book, 9)
    assert stock_of(app, book) == 8 and low_stock_alerts(app, book) == []


def test_sales_racing_down_past_the_threshold_cross_it_once_each_time(shop):
    """Each round: 8 copies, 8 buyers at the same moment; exactly one sale crosses 5, so one e-mail per admin."""
    app, book, ada = shop["app"], shop["book"], shop["ada"]
    buyers = [make_user(app, email=f"buyer{n}@example.com", name=f"Buyer {n}") for n in range(BUYERS)]
    for round_number in range(1, ROUNDS + 1):
        sold = sell_at_once(app, buyers, book)
        assert None not in sold and stock_of(app, book) == 0
        alerts = low_stock_alerts(app, book)
        assert len(alerts) == 2 * round_number, f"round {round_number}: {alerts}"
        crossing = {key.split(":")[2] for key, _ in alerts[-2:]}
        assert len(crossing) == 1 and int(crossing.pop()) in sold
        assert restock(app, book, 8, ada) == 8


def test_the_alert_names_the_book_and_its_stock_and_links_to_its_admin_page(shop_app, sink):
    shop_app.config["PUBLIC_URL"] = "https://blasto.example"
    ada = make_admin(shop_app, email="ada@example.com", name="Ada Admin")
    buyer = make_user(shop_app)
    book = make_book(shop_app, "Emma", stock=3)
    set_threshold(shop_app, book, 3)
    sell(shop_app, buyer, book)
    with shop_app.app_context():
        row = db.session.execute(
            select(OutboxMessage.id, OutboxMessage.state, OutboxMessage.user_id, OutboxMessage.link).where(
                OutboxMessage.kind == LOW_STOCK
            )
        ).one()
        assert (
            row.state == PENDING
            and row.user_id == ada
            and row.link == f"https://blasto.example/admin/books/{book}/edit"
        )
        assert deliver(row.id).state == "sent"
    (received,) = sink.wait_for_count(1)
    message = received.message
    assert message["To"] == "ada@example.com" and message["Subject"] == "Low stock: “Emma” has 2 copies left"
    text = message.get_body(("plain",)).get_content()
    assert "Hello Ada Admin" in text and "below its low-stock alert (3 copies)" in text and "2 copies in stock" in text
    assert f"https://blasto.example/admin/books/{book}/edit" in message.get_body(("html",)).get_content()
