"""Checkout rules on a real database (SQLite here; Postgres in tests/e2e)."""

import pytest
from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import Product, Purchase, User
from blasto.shop.checkout import (
    CheckoutError,
    IdempotencyMismatch,
    InsufficientStock,
    UnknownProducts,
    place_order,
)
from tests.support.factories import shipping
from tests.support.tiers import POSTGRES_PARAM


@pytest.fixture(params=["sqlite", POSTGRES_PARAM])
def shop(request):
    """App context with one user and two books, on each database."""
    app = request.getfixturevalue("db_app" if request.param == "sqlite" else "pg_app")
    with app.app_context():
        user = User(email="reader@example.com", name="Reader")
        user.set_password("correct horse battery")
        books = [
            Product(title="Emma", author="Jane Austen", price_cents=1199, stock=3),
            Product(title="Dracula", author="Bram Stoker", price_cents=999, stock=1),
        ]
        db.session.add_all([user, *books])
        db.session.commit()
        yield user, books


def stock(product_id):
    return db.session.scalar(select(Product.stock).where(Product.id == product_id))


def test_order_takes_stock_and_bills_from_database_prices(shop):
    user, (emma, dracula) = shop
    purchase, created = place_order(user.id, {emma.id: 2, dracula.id: 1}, shipping())
    assert created and purchase.total_cents == 2 * 1199 + 999
    assert [(i.product_id, i.quantity, i.unit_price_cents) for i in purchase.items] == [
        (emma.id, 2, 1199),
        (dracula.id, 1, 999),
    ]
    assert stock(emma.id) == 1 and stock(dracula.id) == 0


def test_shortage_names_the_book_and_writes_nothing(shop):
    user, (emma, dracula) = shop
    with pytest.raises(InsufficientStock) as caught:
        place_order(user.id, {emma.id: 1, dracula.id: 2}, shipping())
    assert "Only 1 left of “Dracula”" in str(caught.value)
    assert stock(emma.id) == 3 and stock(dracula.id) == 1
    assert db.session.scalar(select(db.func.count(Purchase.id))) == 0


def test_unknown_products_are_refused(shop):
    user, (emma, _) = shop
    with pytest.raises(UnknownProducts) as caught:
        place_order(user.id, {emma.id: 1, 999999: 1}, shipping())
    assert caught.value.product_ids == [999999] and stock(emma.id) == 3


@pytest.mark.parametrize("order", [{}, {1: 0}, {1: -2}, {1: 101}])
def test_bad_quantities_are_refused(shop, order):
    user, (emma, _) = shop
    order = {emma.id: quantity for quantity in order.values()} if order else {}  # noqa: B035 -- one line, its quantity
    with pytest.raises(CheckoutError):
        place_order(user.id, order, shipping())
    assert stock(emma.id) == 3


def test_same_idempotency_key_and_order_replays_the_purchase(shop):
    user, (emma, _) = shop
    first, created = place_order(user.id, {emma.id: 1}, shipping(), idempotency_key="k-1")
    again, created_again = place_order(user.id, {emma.id: 1}, shipping(), idempotency_key="k-1")
    assert created and not created_again and again.id == first.id
    assert stock(emma.id) == 2
    with pytest.raises(IdempotencyMismatch):
        place_order(user.id, {emma.id: 2}, shipping(), idempotency_key="k-1")
    assert stock(emma.id) == 2
