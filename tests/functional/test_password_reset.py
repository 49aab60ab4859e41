"""Forgot password, through the real forms: ask, get the e-mail, follow its link, choose a new password."""

from __future__ import annotations

import re

import pytest

from blasto.shop.password_reset import ASKED, DEAD_LINK
from blasto.shop.passwords import COMMON, LIKE_EMAIL
from blasto.site.password_reset import RESET_DONE
from tests.support.api_client import basic, bearer
from tests.support.factories import PASSWORD, make_user
from tests.support.form_browser import Browser, log_in
from tests.support.password_resets import RESET_PAGE, mailed_reset_path, reset_emails_owed, token_of

NEW_PASSWORD = "a brand new passphrase"


def without_request_id(text: str) -> str:
    return re.sub(r"Request [0-9a-f]{32}", "Request", text)


def ask_for_link(browser: Browser, email: str):
    login = browser.get("/login")
    assert login.has_form("/login") and 'href="/password-reset"' in login.html, "the log-in page offers the reset"
    page = browser.get("/password-reset")
    return browser.submit(page, "/password-reset", {"email": email})


def choose(browser: Browser, path: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    page = browser.get(path)
    assert page.status == 200 and "Choose a new password" in page.text
    return browser.submit(page, RESET_PAGE, {"password": password, "confirm": password if confirm is None else confirm})


def test_a_shopper_who_forgot_the_password_gets_a_link_by_email_and_is_logged_in_with_the_new_one(
    shop_app, browser, sink
):
    make_user(shop_app, email="forgetful@example.com", name="Fay Forgetful")
    page = ask_for_link(browser, " Forgetful@Example.com ")
    assert page.status == 200 and ASKED in page.text

    path = mailed_reset_path(shop_app, sink, "forgetful@example.com")
    page = choose(browser, path)
    assert page.response.request.path == "/home" and RESET_DONE in page.text and "Fay Forgetful" in page.text
    assert "API tokens are revoked" in page.text

    browser.submit(page, "/logout")
    assert log_in(browser, "forgetful@example.com", PASSWORD).status == 400, "the old password no longer works"
    assert "Welcome back, Fay Forgetful." in log_in(browser, "forgetful@example.com", NEW_PASSWORD).text


def test_an_address_without_an_account_gets_the_same_answer_and_no_email(shop_app, browser, sink):
    make_user(shop_app, email="known@example.com")
    known = ask_for_link(browser, "known@example.com")
    unknown = ask_for_link(browser, "unknown@example.com")
    assert (known.status, known.response.request.path) == (unknown.status, unknown.response.request.path)
    assert ASKED in unknown.text and without_request_id(known.text) == without_request_id(unknown.text)
    assert reset_emails_owed(shop_app) == 1


def test_the_ask_form_refuses_what_is_not_an_address_with_a_field_error(shop_app, browser):
    page = browser.submit(browser.get("/password-reset"), "/password-reset", {"email": "not an address"})
    assert page.status == 400 and "That does not look like an e-mail address." in page.text
    assert 'aria-describedby="email-hint email-error"' in page.html
    assert reset_emails_owed(shop_app) == 0


def test_resetting_ends_every_other_session_of_the_account_and_revokes_its_api_tokens(shop_app, browser, sink):
    make_user(shop_app, email="shared@example.com", name="Sid Shared")
    elsewhere = Browser(shop_app.test_client())
    log_in(elsewhere, "shared@example.com")
    assert elsewhere.get("/purchases").response.request.path == "/purchases"
    api = shop_app.test_client()
    token = api.post("/api/v1/tokens", headers=basic("shared@example.com", PASSWORD)).get_json()["token"]
    assert api.get("/api/v1/users/me", headers=bearer(token)).status_code == 200

    ask_for_link(browser, "shared@example.com")
    assert choose(browser, mailed_reset_path(shop_app, sink, "shared@example.com")).status == 200

    assert elsewhere.get("/purchases").response.request.path == "/login", "the other session is over"
    assert api.get("/api/v1/users/me", headers=bearer(token)).status_code == 401
    assert browser.get("/purchases").response.request.path == "/purchases", "the resetting browser is logged in"


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        (NEW_PASSWORD, NEW_PASSWORD + "x", "The two passwords are not the same; type them again."),
        ("short", "short", "Use between 10 and 128 characters."),
        ("password123!", "password123!", COMMON),
        ("rule@example.com", "rule@example.com", LIKE_EMAIL),
        ("", "", "Please choose a new password."),
    ],
)
def test_the_new_password_must_be_typed_twice_and_follow_the_house_rule(
    shop_app, browser, sink, password, confirm, message
):
    make_user(shop_app, email="rule@example.com")
    ask_for_link(browser, "rule@example.com")
    path = mailed_reset_path(shop_app, sink, "rule@example.com")
    page = choose(browser, path, password, confirm)
    assert page.status == 400 and message in page.text
    assert page.form(RESET_PAGE).value("token") == token_of(path), "the form is shown again, on the same link"
    assert choose(browser, path).status == 200, "a refused attempt does not use the link up"


def test_a_used_link_shows_a_clear_page_with_a_way_to_ask_again(shop_app, browser, sink):
    make_user(shop_app, email="once@example.com")
    ask_for_link(browser, "once@example.com")
    path = mailed_reset_path(shop_app, sink, "once@example.com")
    choose(browser, path)
    page = browser.get(path)
    assert page.status == 410 and DEAD_LINK in page.text and 'href="/password-reset"' in page.html
    assert "Traceback" not in page.html
