"""Copies sold and books bought together, kept by every order move and equal to a count from scratch.

The best sellers and "shoppers also bought" read these counts (blasto.shop.sales_counts),
so a move that forgot them would show wrong shelves for good: each test compares the
kept counts with `recount`, on SQLite and on Postgres (the upsert differs per database).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from blasto.core.extensions import db
from blasto.models import BookPair, Product
from blasto.models.purchase import ADMIN, PROVIDER, TIMEOUT
from blasto.shop import orders
from blasto.shop.sales_counts import recount
from tests.support.factories import make_book, make_purchase, make_user
from tests.support.tiers import POSTGRES_PARAM


@pytest.fixture(params=["sqlite", POSTGRES_PARAM])
def any_app(request):
    return request.getfixturevalue("db_app" if request.param == "sqlite" else "pg_app")


def counts(app) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Copies sold per title, and paid orders per (title, other title), leaving out the zeros."""
    with app.app_context():
        titles = dict(db.session.execute(select(Product.id, Product.title)).all())
        sold = dict(db.session.execute(select(Product.title, Product.copies_sold)).all())
        pairs = {
            (titles[one], titles[other]): shared
            for one, other, shared in db.session.execute(
                select(BookPair.product_id, BookPair.other_id, BookPair.orders).where(BookPair.orders != 0)
            )
        }
        db.session.rollback()
    return sold, pairs


def recounted(app):
    with app.app_context():
        recount()
        db.session.commit()
    return counts(app)


def test_every_move_into_or_out_of_paid_keeps_the_counts(any_app):
    app = any_app
    books = {title: make_book(app, title, stock=50) for title in ("Emma", "Dracula", "Kim")}
    emma, dracula, kim = books["Emma"], books["Dracula"], books["Kim"]
    buyer = make_user(app)
    paid_then_shipped = make_purchase(app, buyer, {emma: 2, dracula: 1}, status="awaiting_payment")
    paid_then_refunded = make_purchase(app, buyer, {emma: 1, kim: 3}, status="awaiting_payment")
    expired_then_paid_late = make_purchase(app, buyer, {dracula: 4, kim: 1}, status="awaiting_payment")
    never_paid = make_purchase(app, buyer, {emma: 7, dracula: 7}, status="awaiting_payment")
    with app.app_context():
        orders.move(paid_then_shipped, orders.PAY, ADMIN)
        orders.move(paid_then_shipped, orders.SHIP, ADMIN, carrier="Royal Mail", tracking_number="RM1")
        orders.move(paid_then_refunded, orders.PAY, ADMIN)
        orders.move(paid_then_refunded, orders.CANCEL, ADMIN)
        orders.move(expired_then_paid_late, orders.EXPIRE, TIMEOUT)
        orders.move(expired_then_paid_late, orders.LATE_PAY, PROVIDER)
        orders.move(never_paid, orders.CANCEL, ADMIN)

    kept = counts(app)
    assert kept == (
        {"Emma": 2, "Dracula": 5, "Kim": 1},
        {("Emma", "Dracula"): 1, ("Dracula", "Emma"): 1, ("Dracula", "Kim"): 1, ("Kim", "Dracula"): 1},
    )
    assert recounted(app) == kept


def test_recount_repairs_counts_and_the_command_says_so(any_app):
    app = any_app
    emma, kim = make_book(app, "Emma"), make_book(app, "Kim")
    make_purchase(app, make_user(app), {emma: 2, kim: 1})  # counted as orders.move would
    right = counts(app)
    assert right == ({"Emma": 2, "Kim": 1}, {("Emma", "Kim"): 1, ("Kim", "Emma"): 1})
    with app.app_context():  # as if an older release marked orders paid without counting them
        db.session.execute(update(Product).values(copies_sold=0))
        db.session.execute(update(BookPair).values(orders=0))
        db.session.commit()
    assert counts(app) == ({"Emma": 0, "Kim": 0}, {})
    result = app.test_cli_runner().invoke(args=["recount-sales"])
    assert result.exit_code == 0 and "counted again" in result.output
    assert counts(app) == right
