"""Back in stock: every way a sold-out book returns owes one e-mail per waiting shopper, once.

The admin's edit and restock and an order's cancellation go through their real
forms and the domain's move; the e-mails are outbox rows written with the
stock change, delivered here to a real SMTP server.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, text

from blasto.core.extensions import db
from blasto.models import OutboxMessage, RestockWish
from blasto.models.outbox import BACK_IN_STOCK, WITHDRAWN
from blasto.models.purchase import ADMIN as BY_ADMIN
from blasto.models.purchase import AWAITING_PAYMENT
from blasto.outbox.delivery import deliver
from blasto.shop.book_edits import edit, restock
from blasto.shop.orders import CANCEL, move
from blasto.shop.restock_wishes import ask, is_waiting
from tests.support.factories import make_admin, make_book, make_purchase, make_user, set_hidden
from tests.support.form_browser import Browser
from tests.support.processes import wait_for
from tests.support.smtp_sink import SmtpSink


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


@pytest.mark.parametrize("off_sale", ["sold out again", "hidden"])
def test_a_book_gone_again_before_the_e_mail_goes_sends_nothing_and_the_next_restock_tells_the_shopper(
    shop_app, admin, sink, off_sale
):
    emma = make_book(shop_app, "Emma", stock=0)
    (ann,) = waiting_for(shop_app, emma, "ann@example.com")
    edit_stock(admin, emma, 1)
    ((_, first_key),) = owed(shop_app, emma)
    if off_sale == "hidden":
        set_hidden(shop_app, emma)
    else:
        edit_stock(admin, emma, 0)

    with shop_app.app_context():
        first = db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == first_key))
        assert deliver(first).state == WITHDRAWN
        assert deliver(first).state == "skipped", "withdrawn is final: no task sends it later"
        row = db.session.get(OutboxMessage, first)
        assert row.state == WITHDRAWN and "sold out again" in row.last_error
        assert is_waiting(ann, emma), "the shopper waits for the next restock, as if never told"
    assert sink.received == []
    withdrawn = admin.get("/admin/outbox?state=withdrawn")
    assert withdrawn.status == 200 and "ann@example.com" in withdrawn.text and "sold out again" in withdrawn.text

    if off_sale == "hidden":
        admin.submit(admin.get(f"/admin/books/{emma}/edit"), f"/admin/books/{emma}/show")
    else:
        edit_stock(admin, emma, 2)

    keys = [key for _, key in owed(shop_app, emma)]
    assert len(keys) == 2 and first_key in keys, keys
    (second_key,) = set(keys) - {first_key}
    with shop_app.app_context():
        second = db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == second_key))
        assert deliver(second).state == "sent"
    (mail,) = sink.received
    assert mail.rcpt_tos == ("ann@example.com",) and mail.subject == "“Emma” is back in stock at Blasto"


def _waiting_on_locks(app) -> int:
    """How many of the test database's sessions wait on a lock."""
    with app.app_context(), db.engine.connect() as connection:
        return connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )


def _in_app(app, work):
    """`work` as a thread's job: in an app context of its own, its session removed after."""

    def run():
        with app.app_context():
            try:
                return work()
            finally:
                db.session.remove()

    return run


def _back_then_sold_out_again(app) -> tuple[int, int, int, int]:
    """Emma, sold out, is restocked for Ann, who waits, then sold out again before the worker's turn.

    Returns (admin, book, shopper, the owed e-mail's outbox id).
    """
    admin = make_admin(app)
    emma = make_book(app, "Emma", stock=0)
    (ann,) = waiting_for(app, emma, "ann@example.com")
    with app.app_context():
        restock(emma, 1, admin)
        edit(emma, {"stock": 0}, admin, stock_seen=1)
        (first,) = db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.kind == BACK_IN_STOCK))
        db.session.remove()
    return admin, emma, ann, first


def test_a_restock_racing_the_withdrawal_waits_for_it_and_owes_the_shopper_a_new_e_mail(pg_app):
    """On Postgres: the worker withdraws holding the book's row; a restock meanwhile waits, then finds the wish.

    The test holds the shopper's told wish, so the worker stops inside its
    withdrawal (its DELETE of that wish waits) with the book's row locked; a
    restock then waits on that row. Without the lock the restock would go
    first, find the wish told, and nobody would hear the book is back.
    """
    admin, emma, ann, first = _back_then_sold_out_again(pg_app)

    # The pool is left last, so a failed wait lets go of the wish (holder closes) before it joins the threads.
    with ThreadPoolExecutor(2) as pool, pg_app.app_context(), db.engine.connect() as holder:
        holder.execute(select(RestockWish.id).where(RestockWish.user_id == ann).with_for_update())
        withdrawing = pool.submit(_in_app(pg_app, lambda: deliver(first).state))
        wait_for(lambda: _waiting_on_locks(pg_app) == 1, RACE_DEADLINE_SECONDS, what="the worker held at the told wish")
        restocking = pool.submit(_in_app(pg_app, lambda: restock(emma, 2, admin)))
        wait_for(
            lambda: _waiting_on_locks(pg_app) == 2, RACE_DEADLINE_SECONDS, what="the restock held at the book's row"
        )
        holder.rollback()  # let the worker go on
        assert withdrawing.result(RACE_DEADLINE_SECONDS) == WITHDRAWN
        assert restocking.result(RACE_DEADLINE_SECONDS) == 2

    keys = [key for _, key in owed(pg_app, emma)]
    assert len(keys) == 2 and len(set(keys)) == 2, "the withdrawn e-mail, and a new one for the re-armed wish"
    with pg_app.app_context():
        assert not is_waiting(ann, emma), "the restock told the re-armed wish"


def test_a_restock_in_flight_when_the_worker_comes_is_waited_for_and_the_e_mail_goes(pg_app):
    """On Postgres, the other order: a restock holds the book's row when the worker comes to send.

    The book sold out again after the e-mail was owed, and an admin's restock
    is in flight (its UPDATE holds the row, not yet committed). The worker's
    check waits on that row and, once the restock commits, sees the book back
    and sends. Read without the lock, the worker would see it sold out and
    withdraw, while the restock, having found the wish told, would owe
    nobody anything: the shopper would never hear.
    """
    with SmtpSink() as smtp:
        pg_app.config["MAIL"] = smtp.mail_settings()
        admin, emma, ann, first = _back_then_sold_out_again(pg_app)

        with ThreadPoolExecutor(1) as pool, pg_app.app_context(), db.engine.connect() as restocking:
            restocking.execute(text("UPDATE products SET stock = 2 WHERE id = :id"), {"id": emma})
            sending = pool.submit(_in_app(pg_app, lambda: deliver(first).state))
            wait_for(
                lambda: sending.done() or _waiting_on_locks(pg_app) == 1,
                RACE_DEADLINE_SECONDS,
                what="the worker at the book's row",
            )
            assert not sending.done(), f"the worker did not wait for the restock in flight: {sending.result()}"
            restocking.commit()
            assert sending.result(RACE_DEADLINE_SECONDS) == "sent"

        (mail,) = smtp.received
        assert mail.rcpt_tos == ("ann@example.com",)
    assert len(owed(pg_app, emma)) == 1, "the restock owed nothing more: the e-mail that went was true"
    with pg_app.app_context():
        assert not is_waiting(ann, emma)
