"""Errors: JSON under /api/, HTML elsewhere, the right status, never a traceback."""

import logging

import pytest
from flask import request

from blasto.core.extensions import csrf


@pytest.fixture
def app(app_factory):
    """An app with routes that fail on purpose (added before its first request)."""
    app = app_factory()

    @app.post("/api/v1/_test/echo")
    @csrf.exempt  # a JSON route like the API's, which uses tokens rather than cookies
    def echo():
        return {"got": request.get_json()}

    @app.get("/api/v1/_test/boom")
    def api_boom():
        raise RuntimeError("secret internals: password=hunter2")

    @app.get("/_test/boom")
    def page_boom():
        raise RuntimeError("secret internals: password=hunter2")

    return app


def assert_api_error(response, status, error):
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"] == error and body["message"]
    assert body["request_id"] == response.headers["X-Request-Id"]
    return body


def test_api_404_is_json(client):
    assert_api_error(client.get("/api/v1/nowhere"), 404, "not_found")


def test_api_405_is_json_and_says_what_is_allowed(client):
    response = client.delete("/api/v1/home")
    assert_api_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize(
    "data, content_type",
    [("{not json", "application/json"), ("\xff\xfe", "application/json"), ("", "application/json")],
)
def test_api_body_that_is_not_json_is_a_json_400(client, data, content_type):
    body = assert_api_error(client.post("/api/v1/_test/echo", data=data, content_type=content_type), 400, "bad_request")
    assert "Traceback" not in body["message"]


def test_api_wrong_content_type_is_a_json_415(client):
    assert_api_error(
        client.post("/api/v1/_test/echo", data="a=1", content_type="text/plain"), 415, "unsupported_media_type"
    )


def test_api_body_over_the_limit_is_a_json_413(client):
    response = client.post("/api/v1/_test/echo", data=b"x" * (1024 * 1024 + 1), content_type="application/json")
    assert_api_error(response, 413, "request_entity_too_large")


def test_api_500_is_json_without_internals(client, caplog):
    with caplog.at_level(logging.ERROR, logger="blasto.errors"):
        response = client.get("/api/v1/_test/boom")
    body = assert_api_error(response, 500, "internal_server_error")
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "Traceback" not in text and "RuntimeError" not in text
    records = [r for r in caplog.records if r.name == "blasto.errors"]
    assert len(records) == 1, "an error is logged exactly once"
    assert records[0].exc_info and records[0].request_id == body["request_id"]


def test_page_errors_are_html_pages(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "404" in response.get_data(as_text=True)
    response = client.post("/home")
    assert response.status_code == 405 and response.mimetype == "text/html"


def test_page_500_is_an_html_page_without_internals(client):
    response = client.get("/_test/boom")
    assert response.status_code == 500 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "hunter2" not in page and "Traceback" not in page


def test_client_errors_are_logged_once_with_request_id(client, caplog):
    with caplog.at_level(logging.INFO, logger="blasto.errors"):
        response = client.get("/api/v1/missing", headers={"X-Request-Id": "req-404-check"})
    records = [r for r in caplog.records if r.name == "blasto.errors"]
    assert len(records) == 1 and records[0].request_id == "req-404-check"
    assert response.headers["X-Request-Id"] == "req-404-check"
