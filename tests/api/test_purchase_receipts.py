"""The receipt e-mail's state in the API: none until the order is paid, then pending, then sent or failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import OutboxMessage, Purchase, PurchaseItem
from blasto.models.purchase import ADMIN
from blasto.outbox.delivery import deliver
from blasto.shop.orders import PAY, move
from tests.support.api_client import assert_error
from tests.support.factories import make_book
from tests.support.tiers import POSTGRES_PARAM

PENDING = {"state": "pending", "sent_at": None}
PURCHASE_KEYS = {
    "id",
    "status",
    "created_at",
    "lines_total_cents",
    "shipping",
    "shipping_address",
    "total_cents",
    "total_display",
    "currency",
    "items",
    "_links",
}


@pytest.fixture(params=["sqlite", POSTGRES_PARAM])
def shop_api(request, sink):
    """The API client (SQLite or Postgres) with mail going to the sink."""
    client = request.getfixturevalue("api" if request.param == "sqlite" else "pg_api")
    client.app.config["MAIL"] = sink.mail_settings()
    return client


@pytest.fixture
def buyer(shop_api):
    return shop_api.user("buyer@example.com")


@pytest.fixture
def book(shop_api):
    return make_book(shop_api.app, "Emma", price_cents=1199, stock=10)


def receipt_id(purchase_id: int) -> int:
    outbox_id = db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == f"receipt:{purchase_id}"))
    db.session.rollback()
    assert outbox_id is not None
    return outbox_id


def paid(purchase_id: int) -> None:
    """The shop records the payment (manual mode): only now is a receipt owed."""
    move(purchase_id, PAY, ADMIN)


def detail(api, user, purchase_id: int) -> dict:
    response = api.get(f"/api/v1/purchases/{purchase_id}", user)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_new_purchase_shows_its_receipt_pending_then_sent(shop_api, buyer, book, sink):
    created = shop_api.buy(buyer, [{"product_id": book, "quantity": 2}], key="order-1")
    assert created.status_code == 201
    body = created.get_json()
    assert body["receipt"] is None, "no receipt before the money is in"
    paid(body["id"])
    assert detail(shop_api, buyer, body["id"])["receipt"] == PENDING

    before = datetime.now(UTC)
    assert deliver(receipt_id(body["id"])).state == "sent"

    receipt = detail(shop_api, buyer, body["id"])["receipt"]
    assert receipt["state"] == "sent"
    sent_at = datetime.fromisoformat(receipt["sent_at"])
    assert sent_at.tzinfo is not None and before - timedelta(seconds=1) <= sent_at <= datetime.now(UTC)
    assert len(sink.received) == 1 and sink.received[0].rcpt_tos == ("buyer@example.com",)

    replay = shop_api.buy(buyer, [{"product_id": book, "quantity": 2}], key="order-1")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json()["receipt"] == receipt  # the same purchase, its receipt as it is now
    assert len(sink.received) == 1


def test_a_permanently_refused_receipt_shows_failed(shop_api, buyer, book, sink):
    body = shop_api.buy(buyer, [{"product_id": book, "quantity": 1}]).get_json()
    paid(body["id"])
    sink.refuse_recipients = {"buyer@example.com"}
    assert deliver(receipt_id(body["id"])).state == "failed"
    assert detail(shop_api, buyer, body["id"])["receipt"] == {"state": "failed", "sent_at": None}
    assert sink.received == []


def test_a_retried_receipt_still_shows_pending(api, sink):
    api.app.config["MAIL"] = sink.mail_settings()
    buyer = api.user("buyer@example.com")
    book = make_book(api.app, "Emma", stock=3)
    body = api.buy(buyer, [{"product_id": book, "quantity": 1}]).get_json()
    paid(body["id"])
    sink.refuse_data = "451 4.3.0 Try again later"
    assert deliver(receipt_id(body["id"])).state == "retry"
    assert detail(api, buyer, body["id"])["receipt"] == PENDING


def test_a_purchase_from_before_receipts_has_a_null_receipt(api):
    buyer = api.user("old@example.com")
    book = make_book(api.app, "Emma", price_cents=500, stock=3)
    purchase = Purchase(
        user_id=buyer["id"], total_cents=500, items=[PurchaseItem(product_id=book, quantity=1, unit_price_cents=500)]
    )
    db.session.add(purchase)
    db.session.commit()
    body = detail(api, buyer, purchase.id)
    assert "receipt" in body and body["receipt"] is None


def test_someone_elses_receipt_is_not_shown(api):
    owner, other = api.user("owner@example.com"), api.user("other@example.com")
    book = make_book(api.app, "Emma", stock=3)
    purchase_id = api.buy(owner, [{"product_id": book, "quantity": 1}]).get_json()["id"]
    body = assert_error(api.get(f"/api/v1/purchases/{purchase_id}", other), 404, "not_found")
    assert "receipt" not in body


def test_the_list_is_unchanged_and_carries_no_receipts(api):
    buyer = api.user("buyer@example.com")
    book = make_book(api.app, "Emma", stock=3)
    purchase_id = api.buy(buyer, [{"product_id": book, "quantity": 1}]).get_json()["id"]
    response = api.get("/api/v1/purchases", buyer)
    assert response.status_code == 200
    (item,) = response.get_json()["items"]
    assert item["id"] == purchase_id
    assert set(item) == PURCHASE_KEYS


def test_the_openapi_document_declares_the_receipt_on_the_detail(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    detail_ref = "#/components/schemas/PurchaseDetail"
    get_one = spec["paths"]["/api/v1/purchases/{purchase_id}"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    created = spec["paths"]["/api/v1/purchases"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert get_one == created == {"$ref": detail_ref}

    receipt = schemas["PurchaseDetail"]["properties"]["receipt"]
    refs = [receipt.get("$ref")] + [
        option.get("$ref") for option in receipt.get("anyOf", []) + receipt.get("allOf", []) + receipt.get("oneOf", [])
    ]
    assert "#/components/schemas/Receipt" in refs
    assert receipt.get("nullable") or any(
        option.get("nullable") for option in receipt.get("anyOf", []) + receipt.get("oneOf", [])
    )
    properties = schemas["Receipt"]["properties"]
    assert set(properties["state"]["enum"]) == {"pending", "sent", "failed"}
    assert properties["sent_at"]["format"] == "date-time" and properties["sent_at"].get("nullable") is True

    listed = schemas["PurchasePage"]["properties"]["items"]["items"]
    assert listed == {"$ref": "#/components/schemas/Purchase"}
    assert "receipt" not in schemas["Purchase"]["properties"]
