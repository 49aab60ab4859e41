"""Fixtures for the pages: a migrated app with CSRF on, and a browser for it."""

from __future__ import annotations

import pytest

from tests.support.factories import ADMIN, make_admin, make_user
from tests.support.form_browser import Browser, log_in
from tests.support.smtp_sink import SmtpSink


@pytest.fixture
def shop_app(db_app):
    assert db_app.config.get("WTF_CSRF_ENABLED", True), "these tests post real forms with their CSRF tokens"
    return db_app


@pytest.fixture
def browser(shop_app) -> Browser:
    return Browser(shop_app.test_client())


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


@pytest.fixture
def sink(shop_app):
    """A real SMTP server the shop mails to, as production's SMTP_URL would have it."""
    with SmtpSink() as running:
        shop_app.config["MAIL"] = running.mail_settings()
        yield running
