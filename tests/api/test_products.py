"""The catalogue through the API: pagination edges, search, one book."""

import pytest

from tests.support.api_client import assert_error
from tests.support.factories import make_book


@pytest.fixture
def shelf(api):
    """25 books by two authors; returns their ids in title order."""
    ids = [
        make_book(
            api.app,
            f"Title {n:02d}",
            author="Ursula Writer" if n % 5 == 0 else "Ann Author",
            price_cents=100 + n,
            stock=10,
        )
        for n in range(1, 26)
    ]
    return ids


def test_products_need_a_token(api, shelf):
    assert_error(api.http.get("/api/v1/products"), 401, "unauthorized")
    assert_error(api.http.get(f"/api/v1/products/{shelf[0]}"), 401, "unauthorized")


def test_pages_carry_meta_and_links(api, shelf):
    user = api.user("p@example.com")
    first = api.get("/api/v1/products?per_page=10", user).get_json()
    assert first["_meta"] == {"page": 1, "per_page": 10, "total_pages": 3, "total_items": 25}
    assert [item["id"] for item in first["items"]] == shelf[:10]
    assert first["_links"]["prev"] is None
    second = api.get(first["_links"]["next"], user).get_json()
    assert [item["id"] for item in second["items"]] == shelf[10:20]
    last = api.get(second["_links"]["next"], user).get_json()
    assert [item["id"] for item in last["items"]] == shelf[20:]
    assert last["_links"]["next"] is None and last["_links"]["prev"] == second["_links"]["self"]
    item = first["items"][0]
    assert item["price_cents"] == 101 and item["price_display"] == "$1.01" and item["stock"] == 10
    assert item["_links"]["self"] == f"/api/v1/products/{shelf[0]}"


def test_a_page_past_the_end_is_empty_not_an_error(api, shelf):
    user = api.user("p@example.com")
    body = api.get("/api/v1/products?page=9&per_page=10", user).get_json()
    assert body["items"] == [] and body["_meta"]["total_items"] == 25 and body["_meta"]["total_pages"] == 3
    assert body["_links"]["next"] is None and "page=3" in body["_links"]["prev"]


def test_per_page_is_capped_at_100(api):
    user = api.user("p@example.com")
    for n in range(1, 4):
        make_book(api.app, f"Book {n}")
    body = api.get("/api/v1/products?per_page=100000", user).get_json()
    assert body["_meta"]["per_page"] == 100 and len(body["items"]) == 3


@pytest.mark.parametrize(
    "query, field",
    [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=99999999999999999999", "page"),
        ("per_page=0", "per_page"),
        ("per_page=-5", "per_page"),
        ("per_page=1.5", "per_page"),
        ("q=" + "x" * 101, "q"),
    ],
)
@pytest.mark.sweep
def test_bad_pagination_is_422_naming_the_parameter(api, query, field):
    user = api.user("p@example.com")
    body = assert_error(api.get(f"/api/v1/products?{query}", user), 422, "unprocessable_entity")
    assert field in body["errors"]["query"]


def test_search_matches_title_or_author_case_insensitively(api, shelf):
    user = api.user("p@example.com")
    make_book(api.app, "100% Cotton_Wool", author="Someone")
    by_author = api.get("/api/v1/products?q=ursula&per_page=100", user).get_json()
    assert by_author["_meta"]["total_items"] == 5
    assert all(item["author"] == "Ursula Writer" for item in by_author["items"])
    assert api.get("/api/v1/products?q=TITLE 07", user).get_json()["items"][0]["title"] == "Title 07"
    # LIKE wildcards in the search are literal characters.
    assert [i["title"] for i in api.get("/api/v1/products?q=100%25", user).get_json()["items"]] == ["100% Cotton_Wool"]
    assert api.get("/api/v1/products?q=_", user).get_json()["_meta"]["total_items"] == 1
    searched = api.get("/api/v1/products?q=ursula&per_page=2", user).get_json()
    assert "q=ursula" in searched["_links"]["next"]


def test_one_product_and_missing_ones(api, shelf):
    user = api.user("p@example.com")
    assert api.get(f"/api/v1/products/{shelf[3]}", user).get_json()["title"] == "Title 04"
    assert_error(api.get("/api/v1/products/987654", user), 404, "not_found")
    assert_error(api.get("/api/v1/products/99999999999999999999", user), 404)
    assert_error(api.get("/api/v1/products/abc", user), 404)
    assert_error(api.get("/api/v1/products/-1", user), 404)
    assert_error(api.http.delete(f"/api/v1/products/{shelf[0]}", headers=user["headers"]), 405)
