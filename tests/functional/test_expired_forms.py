"""A form whose session expired goes back to its page with a message and what was typed (never a password)."""

from __future__ import annotations

import html

from blasto.web.expired_forms import EXPIRED_MESSAGE
from tests.support.factories import make_book

SAME_SITE = {"Origin": "http://localhost"}


def test_login_with_an_expired_token_returns_to_the_form_with_the_email_kept(browser):
    data = browser.get("/login").form("/login").data({"email": "reader@example.com", "password": "hunter2 secret"})
    data["csrf_token"] = "expired-long-ago"
    response = browser.client.post("/login", data=data, headers=SAME_SITE)
    assert response.status_code == 303 and response.headers["Location"] == "/login"

    page = browser.get("/login")
    assert EXPIRED_MESSAGE in html.unescape(page.text)
    form = page.form("/login")
    assert form.value("email") == "reader@example.com"
    assert not form.value("password") and "hunter2" not in page.response.get_data(as_text=True)
    again = browser.get("/login")  # kept for one showing only
    assert again.form("/login").value("email") in (None, "")


def test_signup_keeps_name_and_email_but_never_the_password(browser):
    data = (
        browser.get("/signup")
        .form("/signup")
        .data({"name": "Rita Reader", "email": "rita@example.com", "password": "long enough secret"})
    )
    del data["csrf_token"]
    response = browser.client.post("/signup", data=data, headers={"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 303
    page = browser.get(response.headers["Location"])
    form = page.form("/signup")
    assert (form.value("name"), form.value("email")) == ("Rita Reader", "rita@example.com")
    assert "long enough secret" not in page.response.get_data(as_text=True)


def test_a_post_from_another_site_gets_the_message_but_none_of_its_values(browser):
    response = browser.client.post(
        "/login", data={"email": "planted@evil.example", "password": "x"}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 303
    page = browser.get("/login")
    assert EXPIRED_MESSAGE in html.unescape(page.text)
    assert "planted@evil.example" not in page.response.get_data(as_text=True)


def test_checkout_keeps_the_typed_address(shop_app, shopper):
    browser, _ = shopper
    book = make_book(shop_app, "Emma", stock=3)
    browser.submit(browser.get(f"/books/{book}"), "/cart/add")
    data = (
        browser.get("/checkout")
        .form("/checkout")
        .data({"name": "Sam Shopper", "line1": "1 Long Lane", "city": "Leeds", "postal_code": "LS1 1AA"})
    )
    data["csrf_token"] = "stale"
    response = browser.client.post("/checkout", data=data, headers=SAME_SITE)
    assert response.status_code == 303
    page = browser.get("/checkout")
    assert EXPIRED_MESSAGE in html.unescape(page.text)
    form = page.form("/checkout")
    assert (form.value("line1"), form.value("city"), form.value("postal_code")) == ("1 Long Lane", "Leeds", "LS1 1AA")
    assert form.value("idempotency_key") != data["idempotency_key"]  # a fresh one: the old post never happened


def test_a_cart_button_goes_back_to_the_page_it_was_on(shop_app, browser):
    book = make_book(shop_app, "Emma", stock=3)
    browser.submit(browser.get(f"/books/{book}"), "/cart/add")
    response = browser.client.post(
        "/cart/update", data={"product_id": book, "quantity": 2}, headers={"Referer": "http://localhost/cart"}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/cart"
    page = browser.get("/cart")
    assert EXPIRED_MESSAGE in html.unescape(page.text)
    assert [c["value"] for c in page.controls if c.get("name") == "quantity"] == ["1"]  # nothing changed
