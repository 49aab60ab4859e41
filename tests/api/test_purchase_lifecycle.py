"""An order's life in the API: placed awaiting payment with how to pay, its history, cancelled by its shopper."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import OutboxMessage
from blasto.models.purchase import ADMIN
from blasto.shop.orders import PAY, SHIP, move
from tests.support.api_client import assert_error
from tests.support.factories import make_book, stock_of
from tests.support.tiers import POSTGRES_PARAM


@pytest.fixture(params=["sqlite", POSTGRES_PARAM])
def shop_api(request):
    return request.getfixturevalue("api" if request.param == "sqlite" else "pg_api")


def cancel(api, user, purchase_id: int, **kwargs):
    return api.http.post(f"/api/v1/purchases/{purchase_id}/cancel", headers=user["headers"], **kwargs)


def owed_kinds(purchase_id: int) -> list[str]:
    kinds = list(
        db.session.scalars(
            select(OutboxMessage.kind).where(OutboxMessage.purchase_id == purchase_id).order_by(OutboxMessage.id)
        )
    )
    db.session.rollback()
    return kinds


def test_a_new_order_awaits_its_payment_and_says_how_to_pay(shop_api):
    buyer = shop_api.user("buyer@example.com")
    book = make_book(shop_api.app, "Emma", price_cents=1199, stock=5)
    created = shop_api.buy(buyer, [{"product_id": book, "quantity": 2}])
    assert created.status_code == 201
    body = created.get_json()
    assert body["status"] == "awaiting_payment"
    payment = body["payment"]
    assert payment["method"] == "manual"
    assert f"#{body['id']}" in payment["instructions"] and "$23.98" in payment["instructions"]
    due_by = datetime.fromisoformat(payment["due_by"])
    assert due_by - datetime.fromisoformat(body["created_at"]) == timedelta(days=3)
    assert body["shipment"] is None and body["receipt"] is None
    history = [(e["from_status"], e["to_status"], e["cause"]) for e in body["history"]]
    assert history == [(None, "awaiting_payment", "shopper")]
    assert owed_kinds(body["id"]) == ["order_placed"]
    assert stock_of(shop_api.app, book) == 3


def test_the_shopper_cancels_an_unpaid_order_and_the_stock_comes_back(shop_api):
    buyer = shop_api.user("buyer@example.com")
    book = make_book(shop_api.app, "Emma", stock=5)
    purchase_id = shop_api.buy(buyer, [{"product_id": book, "quantity": 2}]).get_json()["id"]

    response = cancel(shop_api, buyer, purchase_id)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "cancelled" and body["payment"]["instructions"] is None
    assert [(e["from_status"], e["to_status"], e["cause"]) for e in body["history"]] == [
        (None, "awaiting_payment", "shopper"),
        ("awaiting_payment", "cancelled", "shopper"),
    ]
    assert stock_of(shop_api.app, book) == 5
    assert owed_kinds(purchase_id) == ["order_placed", "cancelled"]

    again = assert_error(cancel(shop_api, buyer, purchase_id), 409, "conflict")
    assert again["message"] == f"Order #{purchase_id} is cancelled: it cannot be cancelled now."
    assert again["errors"] == {"status": ["The order is cancelled."]}
    assert stock_of(shop_api.app, book) == 5, "a second cancel puts nothing back twice"


def test_a_paid_order_is_cancelled_by_the_shop_not_its_shopper_and_a_shipped_one_by_nobody(shop_api):
    buyer = shop_api.user("buyer@example.com")
    book = make_book(shop_api.app, "Emma", stock=5)
    first = shop_api.buy(buyer, [{"product_id": book, "quantity": 1}]).get_json()["id"]
    second = shop_api.buy(buyer, [{"product_id": book, "quantity": 1}]).get_json()["id"]
    move(first, PAY, ADMIN)
    move(second, PAY, ADMIN)
    move(second, SHIP, ADMIN, carrier="Royal Mail", tracking_number="RM 1234-5678")

    # Paid by hand, it goes back by hand: the shopper is told to write to the shop, and nothing changes.
    refused = assert_error(cancel(shop_api, buyer, first), 409, "conflict")
    assert "write to the shop" in refused["message"] and "sends your money back" in refused["message"]
    assert shop_api.get(f"/api/v1/purchases/{first}", buyer).get_json()["status"] == "paid"
    assert owed_kinds(first) == ["order_placed", "receipt"]

    shipped = shop_api.get(f"/api/v1/purchases/{second}", buyer).get_json()
    assert shipped["status"] == "shipped"
    assert shipped["shipment"] == {"carrier": "Royal Mail", "tracking_number": "RM 1234-5678"}
    assert [e["to_status"] for e in shipped["history"]] == ["awaiting_payment", "paid", "shipped"]
    refused = assert_error(cancel(shop_api, buyer, second), 409, "conflict")
    assert "is shipped" in refused["message"]
    assert stock_of(shop_api.app, book) == 3, "neither the paid nor the shipped copy came back"


def test_someone_elses_order_is_a_404_and_stays_as_it_was(shop_api):
    owner, other = shop_api.user("owner@example.com"), shop_api.user("other@example.com")
    book = make_book(shop_api.app, "Emma", stock=5)
    purchase_id = shop_api.buy(owner, [{"product_id": book, "quantity": 1}]).get_json()["id"]
    assert_error(cancel(shop_api, other, purchase_id), 404, "not_found")
    assert_error(cancel(shop_api, other, 2_000_000_000), 404, "not_found")
    assert shop_api.get(f"/api/v1/purchases/{purchase_id}", owner).get_json()["status"] == "awaiting_payment"
    assert stock_of(shop_api.app, book) == 4


def test_cancel_needs_a_token_and_refuses_a_form_body(api):
    buyer = api.user("buyer@example.com")
    book = make_book(api.app, "Emma", stock=5)
    purchase_id = api.buy(buyer, [{"product_id": book, "quantity": 1}]).get_json()["id"]
    assert_error(api.http.post(f"/api/v1/purchases/{purchase_id}/cancel"), 401)
    assert_error(cancel(api, buyer, purchase_id, data="why=changed my mind"), 415, "unsupported_media_type")
    assert cancel(api, buyer, purchase_id, json={}).status_code == 200


def test_the_openapi_document_declares_state_payment_history_and_cancel(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    detail = schemas["PurchaseDetail"]["properties"]
    assert set(schemas["Purchase"]["properties"]["status"]["enum"]) == {
        "awaiting_payment",
        "paid",
        "shipped",
        "cancelled",
        "refunded",
    }
    assert {"payment", "history", "shipment", "receipt"} <= set(detail)
    assert schemas["Payment"]["properties"]["method"]["enum"] == ["manual", "stripe"]
    operation = spec["paths"]["/api/v1/purchases/{purchase_id}/cancel"]["post"]
    assert {"200", "401", "404", "409"} <= set(operation["responses"])
