"""A client for the JSON API over Flask's test client, and the headers and error check API tests share."""

from __future__ import annotations

import base64

from tests.support.factories import PASSWORD, SHIPPING_ADDRESS


class ApiClient:
    """The Flask test client plus the few steps every API test repeats."""

    def __init__(self, app):
        self.app = app
        self.http = app.test_client()

    def signup(self, email: str, name: str = "Reader", password: str = PASSWORD):
        return self.http.post("/api/v1/users", json={"email": email, "password": password, "name": name})

    def token(self, email: str, password: str = PASSWORD) -> str:
        response = self.http.post("/api/v1/tokens", headers=basic(email, password))
        assert response.status_code == 201, response.get_json()
        return response.get_json()["token"]

    def user(self, email: str) -> dict:
        """Sign up and return {'id', 'token', 'headers'} for bearer calls."""
        response = self.signup(email)
        assert response.status_code == 201, response.get_json()
        token = self.token(email)
        return {"id": response.get_json()["id"], "token": token, "headers": bearer(token)}

    def get(self, path, user=None, **kwargs):
        return self.http.get(path, headers=user["headers"] if user else None, **kwargs)

    def buy(self, user, items, key: str | None = None, **shipping):
        """POST /api/v1/purchases, shipped to SHIPPING_ADDRESS unless `shipping_address`/`shipping_option` say."""
        headers = dict(user["headers"])
        if key is not None:
            headers["Idempotency-Key"] = key
        body = {"items": items, "shipping_address": SHIPPING_ADDRESS, **shipping}
        return self.http.post("/api/v1/purchases", json=body, headers=headers)


def basic(email: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response, status: int, error: str | None = None) -> dict:
    """An API error: the status, JSON {error, message, request_id}, no traceback."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["message"] and body["request_id"] == response.headers["X-Request-Id"]
    if error:
        assert body["error"] == error
    assert "Traceback" not in response.get_data(as_text=True)
    return body
