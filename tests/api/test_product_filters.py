"""GET /api/v1/products with the site's parameters: genre, sort, in_stock, a price range; the details of a book; the document."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.api_client import assert_error
from tests.support.factories import make_book, make_purchase, make_user


@pytest.fixture
def shelf(api):
    books = {
        "Leaves of Grass": dict(author="Walt Whitman", genre="poetry", price_cents=1299, stock=10, age_days=50),
        "The Raven": dict(author="Edgar Allan Poe", genre="poetry", price_cents=499, stock=0, age_days=40),
        "Dracula": dict(author="Bram Stoker", genre="horror", price_cents=1199, stock=25, age_days=20),
        "Walden": dict(author="Henry David Thoreau", genre="philosophy", price_cents=999, stock=15, age_days=10),
    }
    return {title: make_book(api.app, title, **details) for title, details in books.items()}


def titles(body: dict) -> list[str]:
    return [item["title"] for item in body["items"]]


def test_genre_sort_and_filters(api, shelf):
    user = api.user("p@example.com")
    assert titles(api.get("/api/v1/products?genre=poetry", user).get_json()) == ["Leaves of Grass", "The Raven"]
    assert titles(api.get("/api/v1/products?sort=price", user).get_json()) == [
        "The Raven",
        "Walden",
        "Dracula",
        "Leaves of Grass",
    ]
    assert titles(api.get("/api/v1/products?sort=new", user).get_json())[0] == "Walden"
    assert titles(api.get("/api/v1/products?sort=price-desc&in_stock=true", user).get_json()) == [
        "Leaves of Grass",
        "Dracula",
        "Walden",
    ]
    assert titles(api.get("/api/v1/products?min_price=9.99&max_price=12", user).get_json()) == ["Dracula", "Walden"]
    buyer = make_user(api.app, email="buyer@example.com")
    make_purchase(api.app, buyer, {shelf["Dracula"]: 2})
    assert titles(api.get("/api/v1/products?sort=best-selling", user).get_json())[0] == "Dracula"


def test_links_keep_every_parameter(api, shelf):
    user = api.user("p@example.com")
    body = api.get("/api/v1/products?per_page=1&genre=poetry&sort=price&in_stock=0&min_price=1&max_price=20.5", user)
    links = body.get_json()["_links"]
    assert parse_qs(urlsplit(links["next"]).query) == {
        "page": ["2"],
        "per_page": ["1"],
        "genre": ["poetry"],
        "sort": ["price"],
        "min_price": ["1"],
        "max_price": ["20.50"],
    }
    second = api.get(links["next"], user).get_json()
    assert titles(second) == ["Leaves of Grass"] and second["_links"]["next"] is None


def test_a_book_carries_its_details(api):
    user = api.user("p@example.com")
    book = make_book(
        api.app,
        "Leaves of Grass",
        genre="poetry",
        publisher="Blasto Classics",
        year_published=1855,
        pages=624,
        format="paperback",
        isbn13="9780141439518",
    )
    item = api.get(f"/api/v1/products/{book}", user).get_json()
    assert {
        key: item[key] for key in ("genre", "genre_label", "publisher", "year_published", "pages", "format", "isbn13")
    } == {
        "genre": "poetry",
        "genre_label": "Poetry",
        "publisher": "Blasto Classics",
        "year_published": 1855,
        "pages": 624,
        "format": "paperback",
        "isbn13": "9780141439518",
    }
    bare = api.get(f"/api/v1/products/{make_book(api.app, 'Emma')}", user).get_json()
    assert bare["genre"] is None and bare["isbn13"] is None and bare["genre_label"] is None


@pytest.mark.parametrize(
    "query, field, message",
    [
        ("genre=westerns", "genre", "There is no genre “westerns”."),
        ("genre=", "genre", "There is no genre"),
        ("sort=cheapest", "sort", "Sort by one of: new, best-selling, price, price-desc, title."),
        ("in_stock=maybe", "in_stock", ""),
        ("min_price=-5", "min_price", "Enter an amount of $0.00 or more."),
        ("max_price=abc", "max_price", "Enter an amount in dollars, like 12.99."),
        ("max_price=1.001", "max_price", "at most two decimal places"),
        ("min_price=20&max_price=10", "max_price", "The highest price is below the lowest; swap them."),
    ],
)
@pytest.mark.sweep
def test_bad_parameters_are_422_naming_them(api, shelf, query, field, message):
    user = api.user("p@example.com")
    body = assert_error(api.get(f"/api/v1/products?{query}", user), 422, "unprocessable_entity")
    assert field in body["errors"]["query"], body
    assert message in " ".join(body["errors"]["query"][field])


def test_the_document_describes_the_parameters_and_the_details(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    parameters = {p["name"]: p for p in spec["paths"]["/api/v1/products"]["get"]["parameters"]}
    assert {"q", "genre", "sort", "in_stock", "min_price", "max_price", "page", "per_page"} <= set(parameters)
    assert "poetry" in parameters["genre"]["schema"]["enum"]
    assert parameters["sort"]["schema"]["enum"] == ["new", "best-selling", "price", "price-desc", "title"]
    assert parameters["in_stock"]["schema"]["type"] == "boolean"
    assert "dollars" in parameters["min_price"]["description"]
    product = spec["components"]["schemas"]["Product"]["properties"]
    assert {"genre", "publisher", "year_published", "pages", "format", "isbn13"} <= set(product)
