"""Back in stock: every way a sold-out book returns owes one e-mail per waiting shopper, once.

The admin's edit and restock and an order's cancellation go through their real
forms and the domain's move; the e-mails are outbox rows written with the
stock change, delivered here to a real SMTP server.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import OutboxMessage, RestockWish
from blasto.models.outbox import BACK_IN_STOCK
from blasto.models.purchase import ADMIN as BY_ADMIN
from blasto.models.purchase import AWAITING_PAYMENT
from blasto.outbox.delivery import deliver
from blasto.shop.orders import CANCEL, move
from blasto.shop.restock_wishes import ask
from tests.support.factories import make_book, make_purchase, make_user, set_hidden
from tests.support.form_browser import Browser


def waiting_for(app, book: int, *emails: str) -> list[int]:
    """Shoppers (new accounts) who asked to hear when `book` is back; their ids."""
    ids = [make_user(app, email=email, name=email.split("@")[0].title()) for email in emails]
    with app.app_context():
        for user_id in ids:
            ask(user_id, book)
    return ids


def owed(app, book: int) -> list[tuple[str, str]]:
    """(recipient, key) of every back-in-stock e-mail owed about `book`."""
    with app.app_context():
        return [
            tuple(row)
            for row in db.session.execute(
                select(OutboxMessage.recipient, OutboxMessage.key)
                .where(OutboxMessage.kind == BACK_IN_STOCK, OutboxMessage.product_id == book)
                .order_by(OutboxMessage.recipient)
            )
        ]


def notified(app, book: int) -> int:
    with app.app_context():
        wishes = db.session.scalars(select(RestockWish).where(RestockWish.product_id == book)).all()
        return sum(wish.notified_at is not None for wish in wishes)


def edit_stock(admin: Browser, book: int, stock: int) -> None:
    page = admin.submit(admin.get(f"/admin/books/{book}/edit"), f"/admin/books/{book}/edit", {"stock": str(stock)})
    assert page.status == 200 and "Saved" in page.text, page.text[:400]


def sold_out_with_an_unpaid_order(app, title: str = "Emma") -> tuple[int, int]:
    """A sold-out book whose last copy an unpaid order holds: (book id, order id)."""
    book = make_book(app, title, stock=0)
    buyer = make_user(app, email="buyer@example.com")
    return book, make_purchase(app, buyer, {book: 1}, status=AWAITING_PAYMENT)


def test_the_admin_edit_from_sold_out_owes_one_e_mail_per_waiting_shopper(shop_app, admin):
    emma = make_book(shop_app, "Emma", stock=0)
    waiting_for(shop_app, emma, "ann@example.com", "bob@example.com")
    assert owed(shop_app, emma) == []

    edit_stock(admin, emma, 3)

    assert [recipient for recipient, _ in owed(shop_app, emma)] == ["ann@example.com", "bob@example.com"]
    assert notified(shop_app, emma) == 2


def test_an_orders_cancellation_putting_the_last_copy_back_owes_the_e_mail(shop_app):
    book, order = sold_out_with_an_unpaid_order(shop_app)
    waiting_for(shop_app, book, "ann@example.com")

    with shop_app.app_context():
        move(order, CANCEL, BY_ADMIN)

    assert [recipient for recipient, _ in owed(shop_app, book)] == ["ann@example.com"]


def test_a_second_restock_e_mails_nobody_again(shop_app, admin):
    emma = make_book(shop_app, "Emma", stock=0)
    waiting_for(shop_app, emma, "ann@example.com")
    edit_stock(admin, emma, 1)
    first = owed(shop_app, emma)

    admin.submit(admin.get(f"/admin/books/{emma}/edit"), f"/admin/books/{emma}/restock", {"copies": "4"})
    edit_stock(admin, emma, 0)
    edit_stock(admin, emma, 2)  # sold out and back again: the wish was told already

    assert len(first) == 1 and owed(shop_app, emma) == first


def test_a_shopper_told_once_who_asks_again_after_it_sells_out_again_is_told_again(shop_app, admin):
    emma = make_book(shop_app, "Emma", stock=0)
    (ann,) = waiting_for(shop_app, emma, "ann@example.com")
    edit_stock(admin, emma, 1)
    edit_stock(admin, emma, 0)

    with shop_app.app_context():
        ask(ann, emma)
    edit_stock(admin, emma, 2)

    keys = [key for _, key in owed(shop_app, emma)]
    assert len(keys) == 2 and len(set(keys)) == 2, keys
    assert notified(shop_app, emma) == 1, "one wish per shopper and book: the new one, told"


def test_a_hidden_book_tells_nobody_until_it_is_shown_again_with_stock(shop_app, admin):
    book, order = sold_out_with_an_unpaid_order(shop_app, "Carmilla")
    waiting_for(shop_app, book, "ann@example.com")
    set_hidden(shop_app, book)

    with shop_app.app_context():
        move(order, CANCEL, BY_ADMIN)  # its copy is back, on a hidden book
    edit_stock(admin, book, 3)
    assert owed(shop_app, book) == [] and notified(shop_app, book) == 0

    admin.submit(admin.get(f"/admin/books/{book}/edit"), f"/admin/books/{book}/show")

    assert [recipient for recipient, _ in owed(shop_app, book)] == ["ann@example.com"]


def test_showing_a_hidden_book_that_is_still_sold_out_tells_nobody(shop_app, admin):
    book = make_book(shop_app, "Carmilla", stock=0)
    waiting_for(shop_app, book, "ann@example.com")
    set_hidden(shop_app, book)

    admin.submit(admin.get(f"/admin/books/{book}/edit"), f"/admin/books/{book}/show")

    assert owed(shop_app, book) == [] and notified(shop_app, book) == 0


def test_the_e_mail_names_the_book_links_to_its_page_and_is_sent_once(shop_app, admin, sink):
    shop_app.config["PUBLIC_URL"] = "https://blasto.example"
    emma = make_book(shop_app, "Emma", stock=0)
    waiting_for(shop_app, emma, "ann@example.com")
    edit_stock(admin, emma, 2)

    with shop_app.app_context():
        (row_id,) = db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.kind == BACK_IN_STOCK))
        assert deliver(row_id).state == "sent"
        assert deliver(row_id).state == "skipped", "sent once, never twice"

    (mail,) = sink.received
    assert mail.rcpt_tos == ("ann@example.com",) and mail.subject == "“Emma” is back in stock at Blasto"
    text = mail.message.get_body(("plain",)).get_content()
    html = mail.message.get_body(("html",)).get_content()
    assert "“Emma” by Jane Austen is back in stock" in text and "Hello Ann," in text
    assert f"See the book: https://blasto.example/books/{emma}" in text
    assert f'<a href="https://blasto.example/books/{emma}">See the book</a>' in html


RACE_ROUNDS = 8
RACE_DEADLINE_SECONDS = 30


def test_two_cancellations_at_once_bringing_a_book_back_owe_the_waiting_shopper_one_e_mail(pg_app):
    """On Postgres: both put a copy back, both see the book in stock, one marks the wish."""
    buyer = make_user(pg_app, email="buyer@example.com")
    for round_number in range(RACE_ROUNDS):
        book = make_book(pg_app, f"Book {round_number}", stock=0)
        orders = [make_purchase(pg_app, buyer, {book: 1}, status=AWAITING_PAYMENT) for _ in range(2)]
        waiting_for(pg_app, book, f"ann{round_number}@example.com")
        barrier = threading.Barrier(2, timeout=RACE_DEADLINE_SECONDS)

        def cancel(order: int) -> None:
            with pg_app.app_context():
                barrier.wait()
                move(order, CANCEL, BY_ADMIN)

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(cancel, orders))

        assert [recipient for recipient, _ in owed(pg_app, book)] == [f"ann{round_number}@example.com"]
        assert notified(pg_app, book) == 1
