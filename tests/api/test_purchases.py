"""Buying through the API: server prices, stock, idempotency, history, bad input."""

import pytest
from sqlalchemy import func, select

from blasto.core.extensions import db
from blasto.models import Purchase, PurchaseItem
from tests.support.api_client import assert_error
from tests.support.factories import make_book, stock_of


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def buyer(api):
    return api.user("buyer@example.com")


@pytest.fixture
def books(api):
    return {
        "cheap": make_book(api.app, "Cheap", price_cents=199, stock=5),
        "dear": make_book(api.app, "Dear", price_cents=4599, stock=2),
    }


def test_purchase_is_priced_by_the_server_and_takes_stock(api, buyer, books):
    response = api.buy(
        buyer, [{"product_id": books["cheap"], "quantity": 3}, {"product_id": books["dear"], "quantity": 1}]
    )
    assert response.status_code == 201
    body = response.get_json()
    assert (
        body["total_cents"] == 3 * 199 + 4599
        and body["total_display"] == "$51.96"
        and body["status"] == "awaiting_payment"
    )
    assert [(i["product_id"], i["quantity"], i["unit_price_cents"], i["line_total_cents"]) for i in body["items"]] == [
        (books["cheap"], 3, 199, 597),
        (books["dear"], 1, 4599, 4599),
    ]
    assert response.headers["Location"] == body["_links"]["self"] == f"/api/v1/purchases/{body['id']}"
    assert api.get(response.headers["Location"], buyer).get_json() == body
    assert (stock_of(api.app, books["cheap"]), stock_of(api.app, books["dear"])) == (2, 1)


def test_prices_in_the_request_are_refused_not_trusted(api, buyer, books):
    body = assert_error(api.buy(buyer, [{"product_id": books["dear"], "quantity": 1, "unit_price_cents": 1}]), 422)
    assert "unit_price_cents" in body["errors"]["json"]["items"]["0"]
    response = api.http.post(
        "/api/v1/purchases",
        json={"items": [{"product_id": books["dear"], "quantity": 1}], "total_cents": 1},
        headers=buyer["headers"],
    )
    assert_error(response, 422)
    assert count(Purchase) == 0 and stock_of(api.app, books["dear"]) == 2


def test_not_enough_stock_is_409_naming_the_book_and_writes_nothing(api, buyer, books):
    response = api.buy(
        buyer, [{"product_id": books["cheap"], "quantity": 1}, {"product_id": books["dear"], "quantity": 3}]
    )
    body = assert_error(response, 409, "conflict")
    assert "Only 2 left of “Dear”" in body["message"]
    assert body["errors"]["json"]["items"] == {"1": {"quantity": ["Only 2 left of “Dear” (you asked for 3)."]}}
    assert (stock_of(api.app, books["cheap"]), stock_of(api.app, books["dear"])) == (5, 2), (
        "the line that fitted was not taken either"
    )
    assert count(Purchase) == 0 and count(PurchaseItem) == 0


def test_unknown_products_are_422_naming_the_line(api, buyer, books):
    body = assert_error(
        api.buy(buyer, [{"product_id": books["cheap"], "quantity": 1}, {"product_id": 424242, "quantity": 1}]), 422
    )
    assert body["errors"]["json"]["items"] == {"1": {"product_id": ["No book with this id."]}}
    assert "424242" in body["message"]
    assert stock_of(api.app, books["cheap"]) == 5 and count(Purchase) == 0


@pytest.mark.parametrize(
    "items",
    [
        [{"product_id": 1, "quantity": 0}],
        [{"product_id": 1, "quantity": -2}],
        [{"product_id": 1, "quantity": 101}],
        [{"product_id": 1, "quantity": 10**30}],
        [{"product_id": 1, "quantity": 1.5}],
        [{"product_id": 1, "quantity": "2"}],
        [{"product_id": 1, "quantity": True}],
        [{"product_id": 1, "quantity": None}],
        [{"product_id": "1", "quantity": 1}],
        [{"product_id": 0, "quantity": 1}],
        [{"product_id": 2**40, "quantity": 1}],
        [{"product_id": 1}],
        [{"quantity": 1}],
        [{"product_id": 1, "quantity": 1}, {"product_id": 1, "quantity": 2}],
        [],
        [{"product_id": n, "quantity": 1} for n in range(1, 52)],
        "not a list",
        [["product_id", 1]],
    ],
)
@pytest.mark.sweep
def test_bad_lines_are_422_and_nothing_is_written(api, buyer, books, items):
    body = assert_error(api.buy(buyer, items), 422, "unprocessable_entity")
    assert "items" in body["errors"]["json"]
    assert count(Purchase) == 0 and stock_of(api.app, books["cheap"]) == 5


def test_repeated_book_error_says_what_to_do(api, buyer, books):
    line = {"product_id": books["cheap"], "quantity": 1}
    body = assert_error(api.buy(buyer, [line, line]), 422)
    assert "once" in str(body["errors"]["json"]["items"])


@pytest.mark.parametrize(
    "kwargs, status",
    [
        ({"data": "items=1"}, 415),
        ({"data": "{oops", "content_type": "application/json"}, 400),
        ({"data": b"\xff\xfe", "content_type": "application/json"}, 400),
        ({"json": {"items": [], "extra": 1}}, 422),
        ({"data": "null", "content_type": "application/json"}, 422),
        ({"data": "[]", "content_type": "application/json"}, 422),
    ],
)
def test_bodies_that_are_not_an_order(api, buyer, books, kwargs, status):
    assert_error(api.http.post("/api/v1/purchases", headers=buyer["headers"], **kwargs), status)
    assert count(Purchase) == 0


def test_same_idempotency_key_and_body_replays_the_first_purchase(api, buyer, books):
    items = [{"product_id": books["cheap"], "quantity": 2}]
    first = api.buy(buyer, items, key="order-7f3a")
    again = api.buy(buyer, items, key="order-7f3a")
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert count(Purchase) == 1 and stock_of(api.app, books["cheap"]) == 3


def test_same_key_with_a_different_body_is_422(api, buyer, books):
    assert api.buy(buyer, [{"product_id": books["cheap"], "quantity": 1}], key="k1").status_code == 201
    body = assert_error(api.buy(buyer, [{"product_id": books["cheap"], "quantity": 2}], key="k1"), 422)
    assert "Idempotency-Key" in body["errors"]["headers"]
    assert count(Purchase) == 1 and stock_of(api.app, books["cheap"]) == 4


def test_keys_belong_to_one_user(api, buyer, books):
    other = api.user("other@example.com")
    assert api.buy(buyer, [{"product_id": books["cheap"], "quantity": 1}], key="shared").status_code == 201
    second = api.buy(other, [{"product_id": books["cheap"], "quantity": 1}], key="shared")
    assert second.status_code == 201 and "Idempotent-Replayed" not in second.headers
    assert count(Purchase) == 2


@pytest.mark.parametrize("key", ["x" * 256, "with space", "tab\tkey", ""])
def test_malformed_idempotency_keys_are_422(api, buyer, books, key):
    body = assert_error(api.buy(buyer, [{"product_id": books["cheap"], "quantity": 1}], key=key), 422)
    assert "Idempotency-Key" in body["errors"]["headers"]
    assert count(Purchase) == 0


def test_history_is_newest_first_and_paginated(api, buyer, books):
    ids = [api.buy(buyer, [{"product_id": books["cheap"], "quantity": 1}]).get_json()["id"] for _ in range(5)]
    page = api.get("/api/v1/purchases?per_page=2", buyer).get_json()
    assert [p["id"] for p in page["items"]] == ids[::-1][:2]
    assert page["_meta"] == {"page": 1, "per_page": 2, "total_pages": 3, "total_items": 5}
    assert page["items"][0]["items"][0]["title"] == "Cheap"
    last = api.get("/api/v1/purchases?per_page=2&page=3", buyer).get_json()
    assert [p["id"] for p in last["items"]] == [ids[0]] and last["_links"]["next"] is None
    beyond = api.get("/api/v1/purchases?per_page=2&page=4", buyer).get_json()
    assert beyond["items"] == [] and beyond["_meta"]["total_items"] == 5
    assert_error(api.get("/api/v1/purchases?page=0", buyer), 422)
    assert_error(api.get("/api/v1/purchases?per_page=x", buyer), 422)


def test_every_link_on_a_page_carries_the_apps_mount_point(api, buyer, books):
    bought = api.buy(buyer, [{"product_id": books["cheap"], "quantity": 1}]).get_json()
    plain = api.get("/api/v1/purchases", buyer).get_json()
    assert plain["_links"]["self"].startswith("/api/v1/purchases?")
    assert plain["items"][0]["_links"]["self"] == f"/api/v1/purchases/{bought['id']}"
    mounted = api.http.get(
        "/api/v1/purchases", headers=buyer["headers"], environ_overrides={"SCRIPT_NAME": "/shop"}
    ).get_json()
    assert mounted["_links"]["self"].startswith("/shop/api/v1/purchases?")
    assert mounted["items"][0]["_links"]["self"] == f"/shop/api/v1/purchases/{bought['id']}"


def test_no_purchases_is_an_empty_first_page(api, buyer):
    body = api.get("/api/v1/purchases", buyer).get_json()
    assert body["items"] == [] and body["_meta"] == {"page": 1, "per_page": 20, "total_pages": 0, "total_items": 0}


def test_other_peoples_purchases_are_invisible(api, buyer, books):
    other = api.user("other@example.com")
    mine = api.buy(buyer, [{"product_id": books["cheap"], "quantity": 1}]).get_json()
    assert_error(api.get(f"/api/v1/purchases/{mine['id']}", other), 404, "not_found")
    assert api.get("/api/v1/purchases", other).get_json()["items"] == []
    assert_error(api.get("/api/v1/purchases/99999999999", buyer), 404)
    assert_error(api.get("/api/v1/purchases/nope", buyer), 404)


def test_purchases_need_a_token(api, books):
    assert_error(api.http.get("/api/v1/purchases"), 401)
    assert_error(
        api.http.post("/api/v1/purchases", json={"items": [{"product_id": books["cheap"], "quantity": 1}]}), 401
    )
    assert count(Purchase) == 0


def test_the_list_refuses_unknown_expired_and_revoked_tokens(api, buyer, books):
    from datetime import timedelta

    from sqlalchemy import update

    from blasto.models import ApiToken
    from blasto.models.base import utcnow

    api.buy(buyer, [{"product_id": books["cheap"], "quantity": 1}])
    assert len(api.get("/api/v1/purchases", buyer).get_json()["items"]) == 1
    assert (
        "not valid"
        in assert_error(api.http.get("/api/v1/purchases", headers={"Authorization": "Bearer nope"}), 401)["message"]
    )
    db.session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert "expired" in assert_error(api.get("/api/v1/purchases", buyer), 401)["message"]
    db.session.execute(update(ApiToken).values(expires_at=utcnow() + timedelta(hours=1), revoked_at=utcnow()))
    db.session.commit()
    assert "revoked" in assert_error(api.get("/api/v1/purchases", buyer), 401)["message"]
