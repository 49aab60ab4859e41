"""Error pages speak plainly and offer a way back; the API keeps its JSON problem documents."""

from __future__ import annotations

import html

import pytest
from flask import abort
from werkzeug.exceptions import TooManyRequests

from tests.support.factories import make_book

HEADINGS = {
    400: "We couldn't use that request",
    403: "This page isn't open to you",
    404: "We couldn't find that page",
    405: "That page can't be used that way",
    413: "That was too much to send",
    429: "Please slow down a moment",
    500: "Something went wrong on our side",
}


@pytest.fixture
def erring(shop_app):
    """The shop with pages that fail on purpose (added before its first request)."""

    def bad():
        abort(400)

    def forbidden():
        abort(403)

    def throttled():
        raise TooManyRequests(retry_after=42)

    def broken():
        raise RuntimeError("secret detail 0xdeadbeef")

    shop_app.add_url_rule("/_test/bad", view_func=bad)
    shop_app.add_url_rule("/_test/forbidden", view_func=forbidden)
    shop_app.add_url_rule("/_test/throttled", view_func=throttled)
    shop_app.add_url_rule("/_test/broken", view_func=broken)
    return shop_app.test_client()


def page(response) -> str:
    assert response.mimetype == "text/html"
    return html.unescape(response.get_data(as_text=True))


def heading(body: str) -> str:
    return body.split("<h1>", 1)[1].split("</h1>", 1)[0]


@pytest.mark.parametrize(
    ("code", "method", "path", "kwargs"),
    [
        (400, "get", "/_test/bad", {}),
        (403, "get", "/_test/forbidden", {}),
        (404, "get", "/no/such/page", {}),
        (405, "delete", "/cart", {}),
        (413, "post", "/login", {"data": {"email": "x" * (1024 * 1024 + 10)}}),
        (429, "get", "/_test/throttled", {}),
        (500, "get", "/_test/broken", {}),
    ],
)
def test_each_error_page_has_a_plain_heading_and_a_way_home(erring, code, method, path, kwargs):
    response = getattr(erring, method)(path, **kwargs)
    body = page(response)
    assert response.status_code == code
    assert heading(body) == HEADINGS[code]
    assert " · " not in heading(body) and response.status.split(" ", 1)[1] not in heading(body)
    assert 'href="/home"' in body and "Go to the front page" in body
    assert "Traceback" not in body and "0xdeadbeef" not in body


def test_a_429_says_how_long_to_wait(erring):
    response = erring.get("/_test/throttled")
    assert response.headers["Retry-After"] == "42"
    assert "Please wait 42 seconds and try again." in page(response)


def test_a_404_offers_the_catalogue_and_the_page_the_shopper_came_from(erring):
    response = erring.get("/books/999999", headers={"Referer": "http://localhost/books?q=emma"})
    body = page(response)
    assert response.status_code == 404
    assert '<a href="/books?q=emma">Back to the previous page</a>' in body
    assert '<a href="/books">Browse the catalogue</a>' in body


@pytest.mark.parametrize(
    "referer", ["https://evil.example/phish", "http://localhost/no/such/page", "http://localhost//evil.example/"]
)
def test_no_back_link_to_another_site_or_to_the_failing_page(erring, referer):
    body = page(erring.get("/no/such/page", headers={"Referer": referer}))
    assert "Back to the previous page" not in body and "evil.example" not in body


def test_a_message_chosen_by_the_code_is_kept(shop_app, erring):
    book = make_book(shop_app, "Emma")
    response = erring.post("/cart/add", data={"product_id": book, "quantity": 1})  # no CSRF token, no Referer
    body = page(response)
    assert response.status_code == 400 and "This form has expired" in body


def test_api_errors_stay_json_problem_documents(erring):
    response = erring.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.mimetype == "application/json"
    assert response.get_json()["error"] == "not_found"
    anonymous = erring.get("/api/v1/purchases")
    assert anonymous.status_code == 401 and anonymous.mimetype == "application/json"
    assert set(anonymous.get_json()) >= {"error", "message", "request_id"}
