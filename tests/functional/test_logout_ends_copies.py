"""Logging out ends that session everywhere: a copied session or remember cookie stops working.

Flask's session is a signed cookie; before log-ins were recorded, a copy taken
before logout (a shared computer, a stolen cookie) went on working. Each test
copies real cookies into a second client, as an attacker would.
"""

from __future__ import annotations

import pytest

from blasto.core.extensions import db
from blasto.models import LoginSession
from tests.support.factories import make_user
from tests.support.form_browser import Browser, log_in

EMAIL = "reader@example.com"


def logged_in(browser: Browser) -> bool:
    page = browser.get("/purchases")
    return page.status == 200 and page.response.request.path == "/purchases"


def copy_cookies(app, source: Browser, names: tuple[str, ...]) -> Browser:
    thief = Browser(app.test_client())
    for name in names:
        cookie = source.client.get_cookie(name)
        assert cookie is not None, f"no {name} cookie to copy"
        thief.client.set_cookie(name, cookie.value)
    return thief


@pytest.fixture
def reader(shop_app, browser) -> Browser:
    make_user(shop_app, email=EMAIL, name="Rita Reader")
    log_in(browser, EMAIL, remember=True)
    assert logged_in(browser)
    return browser


def log_out(browser: Browser) -> None:
    page = browser.submit(browser.get("/home"), "/logout")
    assert "You are logged out." in page.text


def test_a_copied_session_cookie_stops_working_when_its_owner_logs_out(shop_app, reader):
    thief = copy_cookies(shop_app, reader, ("session",))
    assert logged_in(thief), "the copy works while the session lasts"
    log_out(reader)
    assert not logged_in(thief)
    assert not logged_in(reader)


def test_a_copied_remember_cookie_stops_working_too(shop_app, reader):
    thief = copy_cookies(shop_app, reader, ("remember_token",))
    assert logged_in(thief), "the remember cookie alone logs in"
    later = copy_cookies(shop_app, reader, ("remember_token",))  # a copy not used until after the logout
    log_out(reader)
    assert not logged_in(thief)
    assert not logged_in(later)


def test_logging_out_on_one_device_leaves_the_others_logged_in(shop_app, reader):
    phone = Browser(shop_app.test_client())
    log_in(phone, EMAIL)
    log_out(reader)
    assert logged_in(phone)
    with shop_app.app_context():
        ended = db.session.scalars(db.select(LoginSession.ended_at).order_by(LoginSession.id)).all()
    assert ended[0] is not None and ended[1] is None


def test_logging_in_again_after_logout_works(shop_app, reader):
    log_out(reader)
    log_in(reader, EMAIL)
    assert logged_in(reader)


@pytest.mark.parametrize("ident", ["1", "1:", ":1", "1:x", "x:1", "1:1:1", "", "1:999", "2:1"])
@pytest.mark.sweep
def test_session_cookies_naming_no_live_log_in_are_anonymous_not_errors(shop_app, reader, ident):
    """A signed cookie from before log-ins were recorded ("1"), or naming a log-in that is not this user's."""
    forged = Browser(shop_app.test_client())
    forged.client.set_cookie(
        "session",
        shop_app.session_interface.get_signing_serializer(shop_app).dumps({"_user_id": ident, "_fresh": True}),
    )
    page = forged.get("/purchases")
    assert page.status == 200 and page.response.request.path == "/login"
