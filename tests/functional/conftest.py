"""Fixtures for the pages: a migrated app with CSRF on, and a browser for it."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.functional.browser import Browser, Page
from tests.support.factories import PASSWORD, make_admin, make_user


@pytest.fixture
def shop_app(db_app):
    assert db_app.config.get("WTF_CSRF_ENABLED", True), "these tests post real forms with their CSRF tokens"
    db_app.config["FRONT_PAGE_TTL_SECONDS"] = 0  # tests see the shelves as they are now
    return db_app


@pytest.fixture
def browser(shop_app) -> Browser:
    return Browser(shop_app.test_client())


def log_in(
    browser: Browser, email: str, password: str = PASSWORD, next_url: str | None = None, remember: bool = False
) -> Page:
    url = "/login" + (f"?{urlencode({'next': next_url})}" if next_url else "")
    page = browser.get(url)
    data = {"email": email, "password": password}
    if remember:
        data["remember"] = "y"
    return browser.submit(page, "/login", data)


ADMIN = "admin@example.com"


@pytest.fixture
def admin(shop_app, browser) -> Browser:
    """A browser logged in as an admin (made by the factory: the CLI is tested on its own)."""
    make_admin(shop_app, ADMIN)
    log_in(browser, ADMIN)
    return browser


@pytest.fixture
def shopper(shop_app, browser) -> tuple[Browser, int]:
    """A logged-in browser and its user's id."""
    user_id = make_user(shop_app, email="shopper@example.com", name="Sam Shopper")
    page = log_in(browser, "shopper@example.com")
    assert "Sam Shopper" in page.text
    return browser, user_id
