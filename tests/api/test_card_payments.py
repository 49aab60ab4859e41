"""Paying a card order through the API, against localstripe: the payment object, POST .../payment's answers
(200 paid, 402 declined, 202 for 3-D Secure, 404, 409, 422, 503 with Retry-After) and the OpenAPI document."""

from __future__ import annotations

import pytest

from tests.support.api_client import ApiClient, assert_error
from tests.support.card_payments import (
    DECLINED_CARD,
    THREE_D_SECURE_CARD,
    authenticate,
    card_id,
    intents_for,
    stripe_settings,
)
from tests.support.factories import make_book
from tests.support.payment_stand_in import PUBLISHABLE_KEY
from tests.support.report_databases import sqlite_copy

pytestmark = pytest.mark.processes  # localstripe


@pytest.fixture
def card_api(app_factory, sqlite_template, tmp_path, stand_in):
    sqlite_copy(sqlite_template, tmp_path)
    app = app_factory(PAYMENTS=stripe_settings(stand_in.api_base))
    with app.app_context():
        yield ApiClient(app)


@pytest.fixture
def buyer(card_api):
    return card_api.user("buyer@example.com")


def place(api: ApiClient, user: dict) -> dict:
    book = make_book(api.app, "Emma", price_cents=1199, stock=5)
    response = api.buy(user, [{"product_id": book, "quantity": 2}])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def pay(api: ApiClient, user: dict, purchase_id: int, body: dict):
    return api.http.post(f"/api/v1/purchases/{purchase_id}/payment", json=body, headers=user["headers"])


def test_a_card_order_shows_its_payment_and_a_card_pays_it(card_api, buyer, stand_in):
    placed = place(card_api, buyer)
    payment = placed["payment"]
    assert (payment["method"], payment["publishable_key"], payment["status"]) == (
        "stripe",
        PUBLISHABLE_KEY,
        "requires_payment_method",
    )
    [made] = intents_for(stand_in, placed["id"])
    assert payment["client_secret"] == made["client_secret"] and made["amount"] == 2398
    assert "by card" in payment["instructions"] and payment["due_by"]
    again = card_api.get(f"/api/v1/purchases/{placed['id']}", buyer).get_json()
    assert again["payment"]["client_secret"] == made["client_secret"] and len(intents_for(stand_in, placed["id"])) == 1

    paid = pay(card_api, buyer, placed["id"], {"card_token": card_id(stand_in)})
    assert paid.status_code == 200, paid.get_json()
    body = paid.get_json()
    assert body["status"] == "paid" and body["history"][-1]["cause"] == "provider"
    assert body["payment"] == {
        "method": "stripe",
        "instructions": None,
        "due_by": None,
        "publishable_key": PUBLISHABLE_KEY,
        "client_secret": None,
        "status": "succeeded",
    }
    assert_error(pay(card_api, buyer, placed["id"], {"card_token": card_id(stand_in)}), 409)


def test_the_token_id_serves_as_well_as_its_card_id(card_api, buyer, stand_in):
    placed = place(card_api, buyer)
    token = stand_in.card_token()["id"]
    assert token.startswith("tok_")
    paid = pay(card_api, buyer, placed["id"], {"card_token": token})
    assert paid.status_code == 200 and paid.get_json()["status"] == "paid"


def test_a_declined_card_is_a_402_with_stripes_message(card_api, buyer, stand_in):
    placed = place(card_api, buyer)
    body = assert_error(pay(card_api, buyer, placed["id"], {"card_token": card_id(stand_in, DECLINED_CARD)}), 402)
    assert body["message"] == "Your card was declined."
    assert card_api.get(f"/api/v1/purchases/{placed['id']}", buyer).get_json()["status"] == "awaiting_payment"


def test_3d_secure_is_a_202_then_the_order_is_paid_once_the_bank_agrees(card_api, buyer, stand_in):
    placed = place(card_api, buyer)
    asked = pay(card_api, buyer, placed["id"], {"card_token": card_id(stand_in, THREE_D_SECURE_CARD)})
    assert asked.status_code == 202
    payment = asked.get_json()["payment"]
    assert payment["status"] == "requires_action" and payment["client_secret"] == placed["payment"]["client_secret"]
    authenticate(stand_in, payment["client_secret"], success=True)  # Stripe.js's confirmCardPayment
    body = card_api.get(f"/api/v1/purchases/{placed['id']}", buyer).get_json()
    assert body["status"] == "paid" and body["payment"]["status"] == "succeeded"


def test_a_failed_3d_secure_leaves_the_order_waiting_and_another_card_may_pay(card_api, buyer, stand_in):
    placed = place(card_api, buyer)
    asked = pay(card_api, buyer, placed["id"], {"card_token": card_id(stand_in, THREE_D_SECURE_CARD)})
    authenticate(stand_in, asked.get_json()["payment"]["client_secret"], success=False)
    body = card_api.get(f"/api/v1/purchases/{placed['id']}", buyer).get_json()
    assert body["status"] == "awaiting_payment" and body["payment"]["status"] == "requires_payment_method"
    assert pay(card_api, buyer, placed["id"], {"card_token": card_id(stand_in)}).status_code == 200


def test_someone_elses_order_is_a_404_and_charges_nothing(card_api, buyer, stand_in):
    placed = place(card_api, buyer)
    other = card_api.user("other@example.com")
    assert_error(pay(card_api, other, placed["id"], {"card_token": card_id(stand_in)}), 404)
    assert_error(pay(card_api, other, 999999, {"card_token": card_id(stand_in)}), 404)
    assert_error(card_api.get(f"/api/v1/purchases/{placed['id']}", other), 404)
    assert card_api.get(f"/api/v1/purchases/{placed['id']}", buyer).get_json()["status"] == "awaiting_payment"


def test_a_cancelled_order_is_a_409(card_api, buyer, stand_in):
    placed = place(card_api, buyer)
    cancelled = card_api.http.post(f"/api/v1/purchases/{placed['id']}/cancel", headers=buyer["headers"])
    assert cancelled.status_code == 200 and cancelled.get_json()["payment"]["status"] == "canceled"
    body = assert_error(pay(card_api, buyer, placed["id"], {"card_token": card_id(stand_in)}), 409)
    assert "cancelled" in body["message"]


@pytest.mark.parametrize(
    "body",
    [{}, {"card_token": "4242424242424242"}, {"card_token": 42}, {"card_token": "card_1", "number": "4242"}],
)
def test_a_bad_body_is_a_422(card_api, buyer, body):
    placed = place(card_api, buyer)
    assert_error(pay(card_api, buyer, placed["id"], body), 422)


def test_an_unknown_card_is_refused_without_a_500(card_api, buyer):
    placed = place(card_api, buyer)
    body = assert_error(pay(card_api, buyer, placed["id"], {"card_token": "card_doesnotexist"}), 402)
    assert "could not be used" in body["message"]


def test_stripe_down_is_a_503_with_retry_after_and_the_order_waits(card_api, buyer, stand_in):
    stand_in.stop()
    placed = place(card_api, buyer)  # the order is taken; its payment waits for Stripe
    assert placed["status"] == "awaiting_payment"
    assert (placed["payment"]["client_secret"], placed["payment"]["status"]) == (None, None)
    response = pay(card_api, buyer, placed["id"], {"card_token": "card_12345"})
    body = assert_error(response, 503)
    assert int(response.headers["Retry-After"]) > 0 and "try again" in body["message"]
    assert card_api.get(f"/api/v1/purchases/{placed['id']}", buyer).get_json()["status"] == "awaiting_payment"


def test_manual_orders_keep_their_payment_object(api):
    user = api.user("manual@example.com")
    book = make_book(api.app, "Emma", stock=5)
    payment = api.buy(user, [{"product_id": book, "quantity": 1}]).get_json()["payment"]
    assert set(payment) == {"method", "instructions", "due_by"} and payment["method"] == "manual"


def test_the_openapi_document_describes_card_payments(api):
    spec = api.http.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/purchases/{purchase_id}/payment"]["post"]
    assert {"200", "202", "401", "402", "404", "409", "415", "422", "503"} <= set(operation["responses"])
    assert operation["security"] == [{"bearerAuth": []}]
    schemas = spec["components"]["schemas"]
    request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schemas[request]["required"] == ["card_token"]
    payment = schemas["Payment"]["properties"]
    assert {"publishable_key", "client_secret", "status"} <= set(payment) and "stripe" in payment["method"]["enum"]
