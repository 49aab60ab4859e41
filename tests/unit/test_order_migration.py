"""Migration 0009 on a shop with orders: every existing order keeps its state, and the new checks hold.

Applied in-process (Flask-Migrate's upgrade), on SQLite and Postgres: up to
0008, an order and its receipt written as the code of the time wrote them, then
up to the head.
"""

from __future__ import annotations

import pytest
from flask_migrate import upgrade
from sqlalchemy.exc import IntegrityError

from blasto.core.extensions import db
from tests.support.migrations import app_at_revision
from tests.support.migrations import committed_sql as sql
from tests.support.tiers import POSTGRES_PARAM

BEFORE = "0008_sweep_heartbeats"


@pytest.fixture(params=["sqlite", POSTGRES_PARAM])
def old_shop(request, app_factory):
    """An app whose database is at the revision before order states, its context pushed."""
    with app_at_revision(request, app_factory, BEFORE) as app:
        yield app


def test_existing_orders_stay_paid_and_new_states_are_checked(old_shop):
    sql(
        "INSERT INTO users (email, name, password_hash, is_admin, created_at) "
        "VALUES ('old@example.com', 'Old', 'x', false, CURRENT_TIMESTAMP)"
    )
    sql(
        "INSERT INTO products (title, author, description, price_cents, stock, created_at, hidden) "
        "VALUES ('Emma', 'Jane Austen', '', 1199, 3, CURRENT_TIMESTAMP, false)"
    )
    sql("INSERT INTO purchases (user_id, created_at, total_cents, status) VALUES (1, CURRENT_TIMESTAMP, 1199, 'paid')")
    sql("INSERT INTO purchase_items (purchase_id, product_id, quantity, unit_price_cents) VALUES (1, 1, 1, 1199)")
    sql(
        "INSERT INTO outbox_messages (key, kind, state, recipient, user_id, purchase_id, link, created_at, "
        "next_attempt_at, attempts) VALUES ('receipt:1', 'receipt', 'sent', 'old@example.com', 1, 1, '', "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
    )

    upgrade()

    row = sql("SELECT status, payment_method, carrier, tracking_number FROM purchases WHERE id = 1").one()
    assert tuple(row) == ("paid", "manual", None, None)
    assert sql("SELECT kind, state FROM outbox_messages").all() == [("receipt", "sent")]
    assert sql("SELECT count(*) FROM purchase_events").scalar_one() == 0
    # The code deployed before the revision still writes what it wrote (`paid`, no payment method).
    sql("INSERT INTO purchases (user_id, created_at, total_cents, status) VALUES (1, CURRENT_TIMESTAMP, 0, 'paid')")
    assert sql("SELECT payment_method FROM purchases WHERE id = 2").scalar_one() == "manual"
    sql(
        "INSERT INTO outbox_messages (key, kind, state, recipient, user_id, purchase_id, link, created_at, "
        "next_attempt_at, attempts) VALUES ('order_placed:2', 'order_placed', 'pending', 'old@example.com', 1, 2, '', "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0)"
    )
    for statement in (  # the new checks, and the old ones the tables kept (SQLite copies a table to change one)
        "UPDATE purchases SET status = 'lost' WHERE id = 1",
        "UPDATE purchases SET total_cents = -1 WHERE id = 1",
        "UPDATE outbox_messages SET state = 'lost' WHERE id = 1",
        "INSERT INTO outbox_messages (key, kind, state, recipient, link, created_at, next_attempt_at, attempts) "
        "VALUES ('spam:1', 'spam', 'pending', 'x@example.com', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0)",
    ):
        with pytest.raises(IntegrityError):
            sql(statement)
        db.session.rollback()
    assert sql("SELECT status FROM purchases WHERE id = 1").scalar_one() == "paid"
