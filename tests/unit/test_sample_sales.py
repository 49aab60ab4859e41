"""`flask seed --sales N`: a year of made-up history, added once, never touching stock or mail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from blasto.core.extensions import db
from blasto.models import OutboxMessage, Product, Purchase, PurchaseItem, User
from blasto.models.base import utcnow
from blasto.shop import sample_sales
from blasto.shop.sample_sales import KEY_PREFIX
from tests.support.report_databases import sqlite_copy


@pytest.fixture
def sqlite_app(sqlite_template, tmp_path, make_app):
    """For what does not depend on the database: SQLite only."""
    sqlite_copy(sqlite_template, tmp_path)
    return make_app()


def seed(app, *args):
    return app.test_cli_runner().invoke(args=["seed", *args])


def sample_purchases() -> list[tuple]:
    """(key, user, created_at, total, status, lines) of every sample sale, by key number."""
    purchases = db.session.execute(
        select(
            Purchase.id,
            Purchase.idempotency_key,
            Purchase.user_id,
            Purchase.created_at,
            Purchase.total_cents,
            Purchase.status,
        ).where(Purchase.idempotency_key.like(f"{KEY_PREFIX}%"))
    ).all()
    lines = {}
    for purchase_id, product_id, quantity, price in db.session.execute(
        select(
            PurchaseItem.purchase_id, PurchaseItem.product_id, PurchaseItem.quantity, PurchaseItem.unit_price_cents
        ).order_by(PurchaseItem.id)
    ):
        lines.setdefault(purchase_id, []).append((product_id, quantity, price))
    db.session.rollback()
    return sorted(
        (
            (p.idempotency_key, p.user_id, p.created_at, p.total_cents, p.status, tuple(lines.get(p.id, ())))
            for p in purchases
        ),
        key=lambda sale: int(sale[0].removeprefix(KEY_PREFIX)),
    )


def stock() -> dict[int, int]:
    found = dict(db.session.execute(select(Product.id, Product.stock)).all())
    db.session.rollback()
    return found


def test_seed_sales_adds_what_is_missing_and_nothing_else(reports_app, monkeypatch):
    monkeypatch.setattr(sample_sales, "BATCH", 7)  # several batches: each line must land on its own purchase
    assert seed(reports_app).exit_code == 0  # the catalogue first
    stock_before = stock()
    prices = dict(db.session.execute(select(Product.id, Product.price_cents)).all())

    result = seed(reports_app, "--sales", "30")
    assert result.exit_code == 0, result.output
    assert "seed: 30 sample sales added (30 wanted)" in result.output
    first = sample_purchases()
    assert [sale[0] for sale in first] == [f"{KEY_PREFIX}{n}" for n in range(30)]

    result = seed(reports_app, "--sales", "30")
    assert result.exit_code == 0 and "seed: 0 sample sales added (30 wanted)" in result.output
    assert sample_purchases() == first

    result = seed(reports_app, "--sales", "45")
    assert result.exit_code == 0 and "seed: 15 sample sales added (45 wanted)" in result.output
    after = sample_purchases()
    assert len(after) == 45 and after[:30] == first  # the first ones are untouched; the draw is the same every run
    assert seed(reports_app, "--sales", "10").exit_code == 0 and len(sample_purchases()) == 45  # never removes

    now = utcnow()
    for key, _user_id, created_at, total, status, lines in after:
        assert lines, key
        assert total == sum(quantity * price for _, quantity, price in lines), key
        assert all(price == prices[product] and quantity >= 1 for product, quantity, price in lines), key
        assert len({product for product, _, _ in lines}) == len(lines), key
        assert status == "paid"
        assert now - timedelta(days=366) <= created_at <= now
    assert stock() == stock_before
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    shoppers = db.session.scalars(select(User.email).where(User.id.in_({sale[1] for sale in after}))).all()
    assert shoppers and all(email.startswith("sample.shopper") and email.endswith("@example.com") for email in shoppers)


def test_seed_sales_leaves_the_planner_knowing_the_history_is_there(reports_app):
    """Without fresh statistics Postgres recounted 30,000 sales in a minute, not a second: it planned for 7 orders."""
    assert seed(reports_app).exit_code == 0
    assert seed(reports_app, "--sales", "300").exit_code == 0
    if db.session.get_bind().dialect.name == "postgresql":
        planned = db.session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'purchases'"))
    else:
        stat = db.session.scalar(text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'purchases' LIMIT 1"))
        planned = int(stat.split()[0]) if stat else None
    db.session.rollback()
    assert planned is not None and planned >= 300, f"the planner's row count for purchases: {planned}"


def test_seed_sales_needs_books_first(sqlite_app):
    with pytest.raises(ValueError, match="catalogue is empty"):
        sample_sales.seed_sales(3)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "-1 is not in the range"),
        ("many", "'many' is not a valid integer"),
        ("2.5", "'2.5' is not a valid integer"),
        ("", "is not a valid integer"),
    ],
)
def test_seed_refuses_a_count_that_is_not_a_whole_number_of_sales(sqlite_app, value, message):
    result = seed(sqlite_app, "--sales", value)
    assert result.exit_code == 2, result.output  # click's usage error
    assert "Invalid value for '--sales'" in result.output and message in result.output
    assert "Traceback" not in result.output
    assert db.session.scalar(select(func.count()).select_from(Purchase)) == 0
    assert db.session.scalar(select(func.count()).select_from(Product)) == 0
