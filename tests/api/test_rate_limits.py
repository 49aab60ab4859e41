"""Rate limits on the API's doors: tokens, sign-up, purchases. A breach is a JSON 429 with Retry-After."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from blasto.core.extensions import db
from blasto.models import Purchase, User
from tests.support.api_client import ApiClient, assert_error, basic
from tests.support.factories import PASSWORD, SHIPPING_ADDRESS, make_book

LIMITS = {
    "RATELIMIT_LOGIN": "3 per minute",
    "RATELIMIT_LOGIN_PER_ACCOUNT": "100 per minute",
    "RATELIMIT_SIGNUP": "2 per minute",
    "RATELIMIT_CHECKOUT": "2 per minute",
}


@pytest.fixture
def limited_api(migrated_app_factory):
    app = migrated_app_factory(RATELIMIT_ENABLED=True, **LIMITS)
    with app.app_context():
        yield ApiClient(app)


def from_address(address: str, **headers) -> dict:
    return {"X-Forwarded-For": address, **headers}


def assert_throttled(response, what: str) -> dict:
    body = assert_error(response, 429, "too_many_requests")
    assert body["message"].startswith(f"Too many {what}. Try again in ") and set(body) == {
        "error",
        "message",
        "request_id",
    }
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    return body


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def test_token_requests_are_throttled_per_address(limited_api):
    http = limited_api.http
    for _ in range(3):
        assert_error(
            http.post("/api/v1/tokens", headers=from_address("203.0.113.1", **basic("a@example.com", "nope"))), 401
        )
    assert_throttled(
        http.post("/api/v1/tokens", headers=from_address("203.0.113.1", **basic("a@example.com", "nope"))),
        "log-in attempts from your network",
    )
    # Revoking a token (DELETE) is not a log-in attempt, and another address has its own allowance.
    assert_error(http.delete("/api/v1/tokens", headers=from_address("203.0.113.1")), 401, "unauthorized")
    assert_error(
        http.post("/api/v1/tokens", headers=from_address("203.0.113.2", **basic("a@example.com", "nope"))), 401
    )


def test_token_guesses_are_throttled_per_account_across_addresses(migrated_app_factory):
    app = migrated_app_factory(
        RATELIMIT_ENABLED=True,
        **{**LIMITS, "RATELIMIT_LOGIN": "100 per minute", "RATELIMIT_LOGIN_PER_ACCOUNT": "2 per minute"},
    )
    with app.app_context():
        api = ApiClient(app)
        assert api.signup("victim@example.com").status_code == 201
        for n in range(2):
            assert_error(
                api.http.post(
                    "/api/v1/tokens", headers=from_address(f"198.51.100.{n}", **basic("victim@example.com", "guess"))
                ),
                401,
            )
        throttled = api.http.post(
            "/api/v1/tokens", headers=from_address("198.51.100.99", **basic("VICTIM@example.com", PASSWORD))
        )
        assert_throttled(throttled, "failed log-ins for this e-mail address")
        assert (
            api.http.post(
                "/api/v1/tokens", headers=from_address("198.51.100.99", **basic("other@example.com", "x"))
            ).status_code
            == 401
        )


def test_signups_are_throttled_and_the_throttled_one_creates_nobody(limited_api):
    http = limited_api.http
    for n in range(2):
        response = http.post(
            "/api/v1/users",
            json={"email": f"u{n}@example.com", "password": PASSWORD, "name": "U"},
            headers=from_address("192.0.2.7"),
        )
        assert response.status_code == 201
    late = http.post(
        "/api/v1/users",
        json={"email": "late@example.com", "password": PASSWORD, "name": "U"},
        headers=from_address("192.0.2.7"),
    )
    assert_throttled(late, "sign-ups from your network")
    assert count(User) == 2


def test_purchases_are_throttled_but_reading_them_is_not(limited_api):
    buyer = limited_api.user("buyer@example.com")
    book = make_book(limited_api.app, stock=10)
    headers = {**buyer["headers"], **from_address("203.0.113.50")}
    for _ in range(2):
        assert (
            limited_api.http.post(
                "/api/v1/purchases",
                json={"items": [{"product_id": book, "quantity": 1}], "shipping_address": SHIPPING_ADDRESS},
                headers=headers,
            ).status_code
            == 201
        )
    assert_throttled(
        limited_api.http.post(
            "/api/v1/purchases",
            json={"items": [{"product_id": book, "quantity": 1}], "shipping_address": SHIPPING_ADDRESS},
            headers=headers,
        ),
        "orders from your network",
    )
    assert count(Purchase) == 2
    for _ in range(5):
        assert limited_api.http.get("/api/v1/purchases", headers=headers).status_code == 200


def test_the_openapi_document_and_docs_page_are_untouched(limited_api):
    # Only POSTs to the three doors are limited: everything else answers as many times as asked.
    for _ in range(5):
        assert limited_api.http.get("/api/v1/openapi.json").status_code == 200
        assert limited_api.http.get("/api/v1/home").status_code == 200


def test_the_limited_operations_document_their_429(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/tokens", "/api/v1/users", "/api/v1/purchases"):
        assert paths[path]["post"]["responses"]["429"] == {"$ref": "#/components/responses/TOO_MANY_REQUESTS"}, path


def test_every_rule_names_a_post_route_of_the_page_and_of_the_api(app):
    from blasto.security.rate_limits import RULES

    methods = {rule.endpoint: rule.methods for rule in app.url_map.iter_rules()}
    for rule in RULES:
        assert rule.setting in app.config, rule.setting
        channels = {endpoint.split(".")[0] == "site" for endpoint in rule.endpoints}
        # The account page's forms have no API twin: no API call takes the current password.
        assert channels == ({True} if rule.scope == "account-password" else {True, False}), rule.scope
        assert all("POST" in methods[endpoint] for endpoint in rule.endpoints), rule.scope


def test_the_token_lockout_is_a_429_with_retry_after_and_points_to_the_password_reset(migrated_app_factory):
    app = migrated_app_factory(
        RATELIMIT_ENABLED=True,
        **{**LIMITS, "RATELIMIT_LOGIN": "100 per minute", "RATELIMIT_LOGIN_PER_ACCOUNT": "5 per minute"},
    )
    with app.app_context():
        api = ApiClient(app)
        assert api.signup("locked@example.com").status_code == 201
        for _ in range(5):
            assert_error(api.http.post("/api/v1/tokens", headers=basic("locked@example.com", "a wrong guess")), 401)
        response = api.http.post("/api/v1/tokens", headers=basic("locked@example.com", PASSWORD))
        body = assert_throttled(response, "failed log-ins for this e-mail address")
        assert body["message"] == (
            "Too many failed log-ins for this e-mail address. Try again in 1 minute. "
            "Forgot the password? POST /api/v1/password-reset e-mails a link to reset it."
        )
