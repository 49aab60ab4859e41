"""The API ships like the checkout: an address checked by the same rule, an option, the shipping on the bill."""

import pytest

from blasto.core.shipping_settings import shipping_settings
from tests.support.api_client import assert_error
from tests.support.factories import SHIPPING_ADDRESS, make_book, make_purchase, stock_of


@pytest.fixture
def buyer(api):
    api.app.config["SHIPPING"] = shipping_settings({})  # standard $4.99, free from $50; express $14.99
    return api.user("buyer@example.com")


@pytest.fixture
def book(api):
    return make_book(api.app, "Emma", price_cents=1199, stock=5)


def test_the_order_carries_its_address_option_and_shipping_price(api, buyer, book):
    response = api.buy(buyer, [{"product_id": book, "quantity": 1}], shipping_option="express")
    assert response.status_code == 201
    body = response.get_json()
    assert body["lines_total_cents"] == 1199 and body["total_cents"] == 1199 + 1499
    assert body["shipping"] == {"option": "express", "cents": 1499, "display": "$14.99"}
    assert body["shipping_address"] == SHIPPING_ADDRESS
    assert api.get("/api/v1/purchases", buyer).get_json()["items"][0]["shipping"]["option"] == "express"


def test_without_an_option_the_order_ships_standard_free_from_the_threshold(api, buyer):
    dear = make_book(api.app, "Dear", price_cents=2500, stock=5)
    cheap = api.buy(buyer, [{"product_id": dear, "quantity": 1}]).get_json()
    free = api.buy(buyer, [{"product_id": dear, "quantity": 2}]).get_json()
    assert (cheap["shipping"]["option"], cheap["shipping"]["cents"], cheap["total_cents"]) == ("standard", 499, 2999)
    assert (free["shipping"]["cents"], free["total_cents"]) == (0, 5000)


@pytest.mark.parametrize(
    ("address", "field", "says"),
    [
        ({"name": None}, "name", ""),
        ({"name": "  "}, "name", "Please enter"),
        ({"line1": "x" * 101}, "line1", "100"),
        ({"city": "Dub\u0007lin"}, "city", "control characters"),
        ({"line2": "\u001b[31m"}, "line2", "control characters"),
        ({"country": "XX"}, "country", "We ship to"),
        ({"country": "Ireland"}, "country", ""),
        ({"country": "US", "postal_code": "D02 X285"}, "postal_code", "5 digits"),
        ({"extra": 1}, "extra", ""),
    ],
)
@pytest.mark.sweep
def test_a_bad_address_is_a_422_naming_the_field(api, buyer, book, address, field, says):
    body = {**SHIPPING_ADDRESS, **address}
    body = {key: value for key, value in body.items() if value is not None}
    error = assert_error(api.buy(buyer, [{"product_id": book, "quantity": 1}], shipping_address=body), 422)
    messages = error["errors"]["json"]["shipping_address"][field]
    assert says in " ".join(messages)
    assert stock_of(api.app, book) == 5


def test_a_missing_address_or_unknown_option_is_a_422(api, buyer, book):
    missing = api.http.post(
        "/api/v1/purchases", json={"items": [{"product_id": book, "quantity": 1}]}, headers=buyer["headers"]
    )
    assert "shipping_address" in assert_error(missing, 422)["errors"]["json"]
    unknown = assert_error(api.buy(buyer, [{"product_id": book, "quantity": 1}], shipping_option="teleport"), 422)
    assert "standard, express" in unknown["errors"]["json"]["shipping_option"][0]
    assert stock_of(api.app, book) == 5


def test_a_replay_with_another_address_or_option_is_a_different_order(api, buyer, book):
    first = api.buy(buyer, [{"product_id": book, "quantity": 1}], key="order-1")
    again = api.buy(buyer, [{"product_id": book, "quantity": 1}], key="order-1")
    assert first.status_code == again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    moved = {**SHIPPING_ADDRESS, "line1": "2 Other Street"}
    other_address = api.buy(buyer, [{"product_id": book, "quantity": 1}], key="order-1", shipping_address=moved)
    other_option = api.buy(buyer, [{"product_id": book, "quantity": 1}], key="order-1", shipping_option="express")
    for response in (other_address, other_option):
        assert "Idempotency-Key" in assert_error(response, 422)["errors"]["headers"]
    assert stock_of(api.app, book) == 4


def test_an_order_from_before_shipping_shows_none(api, buyer, book):
    purchase_id = make_purchase(api.app, buyer["id"], {book: 1})
    body = api.get(f"/api/v1/purchases/{purchase_id}", buyer).get_json()
    assert body["shipping"] == {"option": None, "cents": 0, "display": "$0.00"}
    assert body["shipping_address"] is None and body["lines_total_cents"] == body["total_cents"] == 1199


def test_the_openapi_document_declares_the_address_and_shipping(api):
    spec = api.http.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    create = schemas["PurchaseCreate"]
    assert {"items", "shipping_address"} <= set(create["required"]) and "shipping_option" in create["properties"]
    assert set(schemas["ShippingAddress"]["required"]) == {"name", "line1", "city", "postal_code", "country"}
    assert {"shipping", "shipping_address", "lines_total_cents"} <= set(schemas["Purchase"]["properties"])
