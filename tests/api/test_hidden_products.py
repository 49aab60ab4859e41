"""Hidden books through the API: absent from the catalogue, refused at purchase, kept in history."""

import pytest
from sqlalchemy import func, select

from blasto.core.extensions import db
from blasto.models import OutboxMessage, Product, Purchase
from tests.support.api_client import assert_error
from tests.support.factories import make_book, stock_of


def hide(product_id: int, hidden: bool = True) -> None:
    db.session.get(Product, product_id).hidden = hidden
    db.session.commit()


def purchases() -> int:
    return db.session.scalar(select(func.count()).select_from(Purchase))


@pytest.fixture
def books(api):
    emma = make_book(api.app, "Emma", author="Jane Austen", price_cents=1000, stock=5)
    dracula = make_book(api.app, "Dracula", author="Bram Stoker", price_cents=1000, stock=5)
    hide(dracula)
    return {"emma": emma, "dracula": dracula}


def test_hidden_books_are_not_listed_or_found(api, books):
    user = api.user("reader@example.com")
    body = api.get("/api/v1/products", user).get_json()
    assert [item["id"] for item in body["items"]] == [books["emma"]] and body["_meta"]["total_items"] == 1
    assert api.get("/api/v1/products?q=stoker", user).get_json()["items"] == []
    assert_error(api.get(f"/api/v1/products/{books['dracula']}", user), 404, "not_found")
    assert api.get(f"/api/v1/products/{books['emma']}", user).status_code == 200


def test_buying_a_hidden_book_is_refused_like_an_unknown_one_and_writes_nothing(api, books):
    user = api.user("reader@example.com")
    body = assert_error(
        api.buy(user, [{"product_id": books["emma"], "quantity": 1}, {"product_id": books["dracula"], "quantity": 1}]),
        422,
    )
    assert body["errors"]["json"]["items"] == {"1": {"product_id": ["No book with this id."]}}
    assert body["message"] == f"No such book: {books['dracula']}."
    assert stock_of(api.app, books["emma"]) == 5 and stock_of(api.app, books["dracula"]) == 5
    assert (
        purchases() == 0
        and db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "receipt"))
        == 0
    )


def test_past_purchases_keep_a_book_hidden_later_and_a_retry_replays(api, books):
    user = api.user("reader@example.com")
    first = api.buy(user, [{"product_id": books["emma"], "quantity": 2}], key="order-1")
    assert first.status_code == 201
    hide(books["emma"])
    listed = api.get("/api/v1/purchases", user).get_json()["items"]
    assert [item["title"] for item in listed[0]["items"]] == ["Emma"]
    one = api.get(first.headers["Location"], user).get_json()
    assert one["items"][0]["title"] == "Emma" and one["total_cents"] == 2000
    # A retry of the order placed before the book was hidden returns that order; a new one is refused.
    again = api.buy(user, [{"product_id": books["emma"], "quantity": 2}], key="order-1")
    assert (
        again.status_code == 201
        and again.headers["Idempotent-Replayed"] == "true"
        and again.get_json()["id"] == first.get_json()["id"]
    )
    assert_error(api.buy(user, [{"product_id": books["emma"], "quantity": 1}], key="order-2"), 422)
    assert purchases() == 1 and stock_of(api.app, books["emma"]) == 3


def test_a_book_shown_again_is_back(api, books):
    user = api.user("reader@example.com")
    hide(books["dracula"], hidden=False)
    assert api.get(f"/api/v1/products/{books['dracula']}", user).status_code == 200
    assert api.buy(user, [{"product_id": books["dracula"], "quantity": 1}]).status_code == 201
