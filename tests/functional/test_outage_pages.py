"""Postgres or Redis unreachable, in-process: 503 pages and JSON, never a 500, then recovery.

The app talks to its own Postgres database through a TCP proxy that the test
takes down (connections refused, open ones cut) and brings back; the broker
is a Redis port nothing listens on. The pages go through real forms.
"""

from __future__ import annotations

import base64
import logging
from urllib.parse import urlsplit, urlunsplit

import pytest

from blasto.core.config import celery_config, database_uri, engine_options
from blasto.web.errors import BROKER_MESSAGE, DATABASE_MESSAGE, RETRY_AFTER_SECONDS
from tests.support.factories import PASSWORD, SHIPPING_ADDRESS, make_book, make_user
from tests.support.form_browser import Browser, log_in
from tests.support.processes import free_port
from tests.support.sweeps import run_every_sweep


@pytest.fixture
def outage_app(app_factory, migrated_postgres, proxy):
    """A migrated app on Postgres, reached through `proxy`, CSRF on."""
    parts = urlsplit(migrated_postgres)
    through_proxy = urlunsplit((parts.scheme, f"{parts.username}@127.0.0.1:{proxy.port}", parts.path, "", ""))
    uri = database_uri(through_proxy, None)
    app = app_factory(SQLALCHEMY_DATABASE_URI=uri, SQLALCHEMY_ENGINE_OPTIONS=engine_options(uri, 5))
    return app


def bearer_token(client, email: str) -> dict:
    assert client.post("/api/v1/users", json={"email": email, "password": PASSWORD, "name": "Api"}).status_code == 201
    basic = base64.b64encode(f"{email}:{PASSWORD}".encode()).decode()
    response = client.post("/api/v1/tokens", headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 201
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def assert_outage_page(response, message: str = DATABASE_MESSAGE) -> str:
    html = response.get_data(as_text=True)
    assert response.status_code == 503, (response.status_code, html[:500])
    assert response.mimetype == "text/html"
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert message.replace("'", "&#39;") in html
    assert response.headers["X-Request-Id"] in html
    assert "Traceback" not in html and "OperationalError" not in html and "127.0.0.1" not in html
    return html


def assert_outage_json(response, message: str = DATABASE_MESSAGE) -> dict:
    assert response.status_code == 503, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/json"
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    body = response.get_json()
    assert body == {"error": "service_unavailable", "message": message, "request_id": response.headers["X-Request-Id"]}
    return body


def test_database_down_pages_are_a_503_page_and_the_api_a_503_json_then_both_recover(outage_app, proxy, caplog):
    book = make_book(outage_app, "Persuasion", stock=5)
    make_user(outage_app, email="shopper@example.com", name="Sam Shopper")
    shopper, visitor = Browser(outage_app.test_client()), Browser(outage_app.test_client())
    assert "Sam Shopper" in log_in(shopper, "shopper@example.com").text
    book_page = shopper.get(f"/books/{book}")  # the add-to-cart form, CSRF token included
    api = outage_app.test_client()
    token = bearer_token(api, "api@example.com")
    login_page = visitor.get("/login")

    proxy.down()
    with caplog.at_level(logging.INFO):
        for response in (
            shopper.client.get("/books"),
            shopper.client.get("/purchases"),  # the layout would ask who is logged in: not on this page
            visitor.client.get(f"/books/{book}"),
        ):
            assert_outage_page(response)
        added = shopper.submit(
            book_page, "/cart/add", {"quantity": "1"}, match={"product_id": book}, follow_redirects=False
        )
        assert_outage_page(added.response)
        logged_in = visitor.submit(
            login_page, "/login", {"email": "shopper@example.com", "password": PASSWORD}, follow_redirects=False
        )
        assert_outage_page(logged_in.response)
        assert_outage_json(api.get("/api/v1/products", headers=token))
        assert_outage_json(
            api.post(
                "/api/v1/purchases",
                json={"items": [{"product_id": book, "quantity": 1}], "shipping_address": SHIPPING_ADDRESS},
                headers=token,
            )
        )
        ready = api.get("/readyz")
        assert ready.status_code == 503 and "database" in ready.get_json()["failed"]
        # The front page still renders, with the shelves this process read before the outage
        # (the shopper's log-in landed there); without them it says they are being restocked.
        home = visitor.client.get("/home")
        assert home.status_code == 200 and "Persuasion" in home.get_data(as_text=True)
    outage_lines = [r for r in caplog.records if r.name == "blasto.outages"]
    assert len(outage_lines) == 7 and all(
        r.status == 503 and r.service == "database" and not r.exc_info for r in outage_lines
    )
    assert all(
        r.error.startswith("OperationalError: ") and "SQL" not in r.error and "\n" not in r.error for r in outage_lines
    ), outage_lines[0].error
    assert not [r for r in caplog.records if r.name == "blasto.errors" and r.levelno >= logging.ERROR], (
        "no 500 was logged"
    )

    proxy.up()  # the same app, no restart: the pool replaces the cut connections
    assert shopper.get("/books").status == 200
    assert "Sam Shopper" in shopper.get("/purchases").text
    page = shopper.submit(shopper.get(f"/books/{book}"), "/cart/add", {"quantity": "1"}, match={"product_id": book})
    assert page.status == 200 and "Persuasion" in shopper.get("/cart").text
    products = api.get("/api/v1/products", headers=token)
    assert products.status_code == 200 and products.get_json()["_meta"]["total_items"] == 1
    bought = api.post(
        "/api/v1/purchases",
        json={"items": [{"product_id": book, "quantity": 1}], "shipping_address": SHIPPING_ADDRESS},
        headers={**token, "Idempotency-Key": "after-outage"},
    )
    assert bought.status_code == 201, bought.get_json()


def test_a_request_that_needs_the_broker_while_redis_is_down_gets_a_503(migrated_app_factory, tmp_path):
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    app = migrated_app_factory(CELERY=celery_config(nowhere, tmp_path, {}))
    run_every_sweep(app)  # the clock's sweeps and the worker's heartbeat are fresh: only the broker can fail

    def touch_broker():
        from flask import current_app

        current_app.extensions["celery"].connection_for_write().ensure_connection(
            max_retries=1, interval_start=0, timeout=2
        )
        return "queued"

    app.add_url_rule("/_test/enqueue", view_func=touch_broker)
    app.add_url_rule("/api/v1/_test/enqueue", view_func=touch_broker, endpoint="api_enqueue")
    client = app.test_client()
    assert_outage_page(client.get("/_test/enqueue"), BROKER_MESSAGE)
    assert_outage_json(client.get("/api/v1/_test/enqueue"), BROKER_MESSAGE)
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["failed"] == ["broker"]
