"""The account page, through its real forms: name, password, log-ins, saved addresses, deleting the account."""

from __future__ import annotations

import logging
import re
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from blasto.core.extensions import db
from blasto.models import OutboxMessage, Purchase, User
from blasto.models.base import utcnow
from blasto.models.login_session import SEEN_EVERY, LoginSession
from blasto.models.outbox import EMAIL_CHANGE, FAILED
from blasto.shop.account_settings import DELETED_EMAIL, DELETED_NAME, open_logins
from blasto.shop.email_change import DEAD_LINK, SAME, TAKEN
from blasto.shop.passwords import COMMON
from blasto.site.account import ACCOUNT_DELETED, LAST_ADMIN, PASSWORD_CHANGED, WRONG_PASSWORD
from tests.support.api_client import basic, bearer
from tests.support.email_changes import CHANGED_SUBJECT, CONFIRM_PAGE, deliver_account_emails, mailed_confirm_path
from tests.support.factories import PASSWORD, make_admin, make_book, make_purchase, make_user
from tests.support.form_browser import Browser, log_in
from tests.support.saved_addresses import save_address, saved_lines

NEW_PASSWORD = "a brand new passphrase"
EMAIL = "shopper@example.com"


def other_device(app, email: str = EMAIL) -> Browser:
    elsewhere = Browser(app.test_client())
    log_in(elsewhere, email)
    assert elsewhere.get("/account").response.request.path == "/account"
    return elsewhere


def api_token(app, email: str = EMAIL) -> str:
    response = app.test_client().post("/api/v1/tokens", headers=basic(email, PASSWORD))
    assert response.status_code == 201
    return response.get_json()["token"]


def api_me_status(app, token: str) -> int:
    return app.test_client().get("/api/v1/users/me", headers=bearer(token)).status_code


def end_session_paths(page) -> list[str]:
    return [form.action for form in page.forms if re.fullmatch(r"/account/sessions/\d+/end", form.action)]


def test_the_account_page_is_for_logged_in_shoppers_and_the_menu_links_it(shop_app, browser):
    assert browser.get("/account").response.request.path == "/login"
    make_user(shop_app, email=EMAIL, name="Sam Shopper")
    home = log_in(browser, EMAIL)
    assert 'href="/account"' in home.html
    page = browser.get("/account")
    assert page.status == 200 and "Sam Shopper" in page.text and EMAIL in page.text
    assert 'href="/account" aria-current="page">Account' in page.html


def test_a_shopper_changes_the_name_and_a_blank_or_control_character_name_is_refused(shop_app, shopper):
    browser, user_id = shopper
    page = browser.submit(browser.get("/account"), "/account/name", {"name": "  Sam Renamed "})
    assert page.response.request.path == "/account" and "Your name is changed." in page.text
    assert page.form("/account/name").value("name") == "Sam Renamed"
    for bad, says in (
        ("   ", "Please enter your name."),
        ("Sam\x07", "control characters"),
        ("x" * 101, "at most 100"),
    ):
        refused = browser.submit(browser.get("/account"), "/account/name", {"name": bad})
        assert refused.status == 400 and says in refused.text and 'aria-invalid="true"' in refused.html
    with shop_app.app_context():
        assert db.session.get(User, user_id).name == "Sam Renamed"


def test_changing_the_password_ends_the_other_sessions_and_api_tokens_and_keeps_this_one(shop_app, shopper):
    browser, _ = shopper
    elsewhere = other_device(shop_app)
    token = api_token(shop_app)
    page = browser.submit(
        browser.get("/account"),
        "/account/password",
        {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert page.response.request.path == "/account" and PASSWORD_CHANGED in page.text
    assert browser.get("/account").response.request.path == "/account", "this browser stays logged in"
    assert elsewhere.get("/account").response.request.path == "/login", "the other session is over"
    assert api_me_status(shop_app, token) == 401
    browser.submit(browser.get("/account"), "/logout")
    assert log_in(browser, EMAIL, PASSWORD).status == 400, "the old password no longer works"
    assert log_in(browser, EMAIL, NEW_PASSWORD).response.request.path == "/home"


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ({"current": "not my password"}, WRONG_PASSWORD),
        ({"current": ""}, "Please enter your current password."),
        ({"password": "password123!", "confirm": "password123!"}, COMMON),
        ({"password": "short", "confirm": "short"}, "Use between 10 and 128 characters."),
        ({"confirm": NEW_PASSWORD + "x"}, "The two passwords are not the same"),
    ],
)
def test_a_password_change_needs_the_current_password_and_a_good_new_one_typed_twice(shop_app, shopper, typed, says):
    browser, _ = shopper
    elsewhere = other_device(shop_app)
    data = {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD, **typed}
    page = browser.submit(browser.get("/account"), "/account/password", data)
    assert page.status == 400 and says in page.text
    assert elsewhere.get("/account").response.request.path == "/account", "nothing ended"
    browser.submit(browser.get("/account"), "/logout")
    assert log_in(browser, EMAIL, PASSWORD).response.request.path == "/home", "the password is unchanged"


def test_the_sessions_list_marks_this_device_and_ends_another_one(shop_app, shopper):
    browser, _ = shopper
    first, second = other_device(shop_app), other_device(shop_app)
    page = browser.get("/account")
    assert page.text.count("This device") == 1 and page.text.count(", logged in ") == 3
    assert len(end_session_paths(page)) == 2, "no button ends this device's own session"
    ended = browser.submit(page, end_session_paths(page)[-1])  # the oldest of the others: `first`
    assert "That session is logged out." in ended.text and len(end_session_paths(ended)) == 1
    assert first.get("/account").response.request.path == "/login"
    assert second.get("/account").response.request.path == "/account"
    page = browser.submit(ended, "/account/sessions/end-others")
    assert "1 other session is logged out." in page.text and "You are logged in on this device only." in page.text
    assert second.get("/account").response.request.path == "/login"
    assert browser.get("/account").response.request.path == "/account"


def test_ending_someone_elses_session_is_a_404_and_leaves_it_running(shop_app, shopper):
    browser, _ = shopper
    make_user(shop_app, email="other@example.com")
    other = other_device(shop_app, "other@example.com")
    other_paths = end_session_paths(other_device(shop_app, "other@example.com").get("/account"))
    mine = browser.get("/account")
    token = mine.form("/logout").value("csrf_token")
    response = browser.client.post(other_paths[0], data={"csrf_token": token})
    assert response.status_code == 404
    assert other.get("/account").response.request.path == "/account"
    own_path = f"/account/sessions/{int(other_paths[0].split('/')[3]) + 100}/end"
    assert browser.client.post(own_path, data={"csrf_token": token}).status_code == 404


def test_account_forms_without_a_csrf_token_are_refused_and_change_nothing(shop_app, shopper):
    browser, user_id = shopper
    elsewhere = other_device(shop_app)
    page = browser.get("/account")
    for action, data in (
        ("/account/name", {"name": "Forged"}),
        ("/account/password", {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}),
        (end_session_paths(page)[0], {}),
        ("/account/sessions/end-others", {}),
        ("/account/delete", {"current": PASSWORD}),
    ):
        response = browser.client.post(action, data=data)
        # A form that has a page of its own is sent back to it with the "expired form" message (blasto.web.errors).
        refused = response.status_code == 400 or (response.status_code == 303 and response.location == action)
        assert refused, (action, response.status_code, response.location)
    assert elsewhere.get("/account").response.request.path == "/account"
    assert browser.get("/account").response.request.path == "/account", "not deleted, still logged in"
    with shop_app.app_context():
        assert db.session.get(User, user_id).name == "Sam Shopper"


def test_a_shopper_sees_the_saved_addresses_and_deletes_one_but_not_someone_elses(shop_app, shopper):
    browser, user_id = shopper
    assert "No saved addresses" in browser.get("/account").text
    home = save_address(shop_app, user_id, line1="1 Home Lane")
    save_address(shop_app, user_id, line1="2 Work Road")
    other_id = make_user(shop_app, email="other@example.com")
    theirs = save_address(shop_app, other_id, line1="3 Their Street")
    page = browser.get("/account")
    assert "1 Home Lane" in page.text and "2 Work Road" in page.text and "3 Their Street" not in page.text
    page = browser.submit(page, f"/account/addresses/{home}/delete")
    assert "The address is deleted." in page.text and "1 Home Lane" not in page.text
    assert saved_lines(shop_app, user_id) == ["2 Work Road"]
    token = page.form("/logout").value("csrf_token")
    response = browser.client.post(f"/account/addresses/{theirs}/delete", data={"csrf_token": token})
    assert response.status_code == 404 and saved_lines(shop_app, other_id) == ["3 Their Street"]


def test_the_delete_page_says_what_happens_and_a_wrong_password_deletes_nothing(shop_app, shopper):
    browser, user_id = shopper
    assert 'href="/account/delete"' in browser.get("/account").html
    page = browser.get("/account/delete")
    assert page.status == 200
    for words in (
        "cannot be undone",
        "receives no mail",
        "password stops working",
        "addresses",
        "API tokens",
        "orders are kept for the shop's books",
        "copy of the shipping address",
    ):
        assert words in page.text, words
    refused = browser.submit(page, "/account/delete", {"current": "not my password"})
    assert refused.status == 400 and WRONG_PASSWORD in refused.text
    with shop_app.app_context():
        assert db.session.get(User, user_id).email == EMAIL


def test_deleting_the_account_erases_the_person_keeps_the_orders_and_refuses_old_sessions_and_tokens(shop_app, shopper):
    browser, user_id = shopper
    emma = make_book(shop_app, "Emma", stock=3)
    purchase_id = make_purchase(shop_app, user_id, {emma: 1})
    with shop_app.app_context():
        db.session.get(Purchase, purchase_id).ship_line1 = "1 Book Street"
        db.session.commit()
    save_address(shop_app, user_id)
    elsewhere = other_device(shop_app)
    token = api_token(shop_app)
    browser.submit(browser.get("/password-reset"), "/password-reset", {"email": EMAIL})  # a reset e-mail still owed
    copied = Browser(shop_app.test_client())
    copied.client.set_cookie("session", browser.session_cookie())
    assert copied.get("/account").response.request.path == "/account"

    page = browser.submit(browser.get("/account/delete"), "/account/delete", {"current": PASSWORD})
    assert page.response.request.path == "/home" and ACCOUNT_DELETED in page.text and page.has_form("/logout") is False

    for old in (copied, elsewhere):
        assert old.get("/account").response.request.path == "/login", "a deleted account's session is refused"
    assert api_me_status(shop_app, token) == 401
    assert log_in(browser, EMAIL).status == 400
    assert shop_app.test_client().post("/api/v1/tokens", headers=basic(EMAIL, PASSWORD)).status_code == 401
    with shop_app.app_context():
        user = db.session.get(User, user_id)
        assert (user.name, user.email) == (DELETED_NAME, DELETED_EMAIL.format(id=user_id))
        assert not user.check_password(PASSWORD)
        purchase = db.session.get(Purchase, purchase_id)
        assert purchase.user_id == user_id and purchase.ship_line1 == "1 Book Street"
    assert saved_lines(shop_app, user_id) == []
    with shop_app.app_context():
        rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.user_id == user_id)).all()
        assert rows and {(row.recipient, row.state) for row in rows} == {(DELETED_EMAIL.format(id=user_id), FAILED)}
    make_user(shop_app, email=EMAIL, name="New Sam")
    assert "Welcome back, New Sam." in log_in(browser, EMAIL).text, "the address is free for a new account"


def ask_to_change_email(browser: Browser, email: str, password: str = PASSWORD):
    return browser.submit(browser.get("/account"), "/account/email", {"email": email, "email_current": password})


def test_a_new_email_is_used_once_its_link_is_followed_and_the_old_address_is_told(shop_app, shopper, sink):
    browser, user_id = shopper
    page = ask_to_change_email(browser, " New.Sam@Example.com ")
    assert page.response.request.path == "/account" and "We have sent a link to new.sam@example.com" in page.text
    assert EMAIL in page.text, "the address changes only when the link is followed"

    path = mailed_confirm_path(shop_app, sink, "new.sam@example.com")
    confirm = browser.get(path)
    assert confirm.status == 200 and "new.sam@example.com" in confirm.text
    with shop_app.app_context():
        assert db.session.get(User, user_id).email == EMAIL, "opening the link (a mail scanner's GET) changes nothing"
    done = browser.submit(confirm, CONFIRM_PAGE)
    assert done.response.request.path == "/account" and "Your e-mail address is now new.sam@example.com" in done.text

    deliver_account_emails(shop_app)
    told = [m for m in sink.received if EMAIL in m.rcpt_tos and m.subject == CHANGED_SUBJECT]
    assert len(told) == 1 and "new.sam@example.com" in told[0].message.get_body(("plain",)).get_content()
    assert browser.get(path).status == 410, "the link works once"
    browser.submit(browser.get("/account"), "/logout")
    assert "Welcome back, Sam Shopper." in log_in(browser, "new.sam@example.com").text
    assert log_in(Browser(shop_app.test_client()), EMAIL).status == 400


@pytest.mark.parametrize(
    ("email", "password", "says"),
    [
        ("other@example.com", PASSWORD, TAKEN),
        ("new@example.com", "not my password", WRONG_PASSWORD),
        ("not an address", PASSWORD, "That does not look like an e-mail address."),
        (EMAIL, PASSWORD, SAME),
    ],
)
def test_an_email_change_refuses_a_taken_address_a_wrong_password_and_a_non_address(
    shop_app, shopper, email, password, says
):
    browser, _ = shopper
    make_user(shop_app, email="other@example.com")
    page = ask_to_change_email(browser, email, password)
    assert page.status == 400 and says in page.text
    with shop_app.app_context():
        assert db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == EMAIL_CHANGE)).all() == []


def test_an_address_taken_after_the_link_was_sent_is_refused_with_clear_words(shop_app, shopper, sink):
    browser, user_id = shopper
    ask_to_change_email(browser, "late@example.com")
    path = mailed_confirm_path(shop_app, sink, "late@example.com")
    make_user(shop_app, email="late@example.com", name="Quick Signer")
    page = browser.submit(browser.get(path), CONFIRM_PAGE)
    assert page.status == 409 and TAKEN in page.text
    with shop_app.app_context():
        assert db.session.get(User, user_id).email == EMAIL


def test_a_forged_email_link_is_refused(shop_app, browser):
    page = browser.get(f"{CONFIRM_PAGE}?token=forged")
    assert page.status == 410 and DEAD_LINK in page.text


def test_the_shops_only_admin_cannot_delete_the_account_and_one_of_two_can(shop_app):
    admin = make_admin(shop_app, email="ada@example.com")
    browser = Browser(shop_app.test_client())
    log_in(browser, "ada@example.com")
    page = browser.get("/account/delete")
    assert "only admin" in page.text and not page.has_form("/account/delete")
    token = page.form("/logout").value("csrf_token")
    refused = browser.client.post("/account/delete", data={"csrf_token": token, "current": PASSWORD})
    assert refused.status_code == 303 and refused.headers["Location"].endswith("/account")
    assert LAST_ADMIN in browser.get("/account").text
    with shop_app.app_context():
        assert db.session.get(User, admin).is_admin and db.session.get(User, admin).email == "ada@example.com"
    make_admin(shop_app, email="grace@example.com", name="Grace")
    page = browser.get("/account/delete")
    assert "only admin" not in page.text
    deleted = browser.submit(page, "/account/delete", {"current": PASSWORD})
    assert ACCOUNT_DELETED in deleted.text
    with shop_app.app_context():
        assert db.session.get(User, admin).is_admin is False
        assert db.session.scalars(select(User.email).where(User.is_admin)).all() == ["grace@example.com"]


FIREFOX_ON_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_ON_AN_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1"
)


def test_each_session_names_the_browser_and_system_it_logged_in_from(shop_app, shopper):
    browser, user_id = shopper
    phone = Browser(shop_app.test_client())
    phone.client.environ_base["HTTP_USER_AGENT"] = SAFARI_ON_AN_IPHONE
    log_in(phone, EMAIL)
    desk = Browser(shop_app.test_client())
    desk.client.environ_base["HTTP_USER_AGENT"] = FIREFOX_ON_WINDOWS
    log_in(desk, EMAIL)
    page = desk.get("/account")
    devices = re.findall(r'<strong class="login-device">([^<]*)</strong>', page.html)
    assert devices == ["Firefox on Windows", "Mobile Safari on iOS", "An unknown device"], "newest first"
    assert 'Log out<span class="visually-hidden"> the session of Mobile Safari on iOS' in page.html
    with shop_app.app_context():
        assert {row.device for row in open_logins(user_id)} == {"Firefox on Windows", "Mobile Safari on iOS", None}


def seen_at(app, user_id: int) -> dict[str, datetime | None]:
    """Each open log-in's last-active stamp, by its device."""
    with app.app_context():
        return {row.device or "unknown": row.seen_at for row in open_logins(user_id)}


def set_seen(app, user_id: int, device: str, when: datetime) -> None:
    with app.app_context():
        db.session.execute(
            update(LoginSession)
            .where(
                LoginSession.user_id == user_id,
                LoginSession.device.is_(None) if device == "unknown" else LoginSession.device == device,
            )
            .values(seen_at=when)
        )
        db.session.commit()


def test_each_other_session_says_when_it_was_last_used_and_a_used_one_moves_at_most_every_few_minutes(
    shop_app, shopper
):
    browser, user_id = shopper
    phone = Browser(shop_app.test_client())
    phone.client.environ_base["HTTP_USER_AGENT"] = SAFARI_ON_AN_IPHONE
    log_in(phone, EMAIL)
    stamps = seen_at(shop_app, user_id)
    assert all(stamps.values()), "a log-in is in use from its first page"

    an_hour_ago = utcnow() - timedelta(hours=1)
    set_seen(shop_app, user_id, "Mobile Safari on iOS", an_hour_ago)
    page = browser.get("/account")
    (shown,) = re.findall(r', last active <time datetime="([^"]+)"', page.html)
    assert datetime.fromisoformat(shown) == an_hour_ago, "this device shows its badge; the phone, its last use"

    phone.get("/books")  # used again: the stamp moves to now, written after the page
    moved = seen_at(shop_app, user_id)["Mobile Safari on iOS"]
    assert moved is not None and utcnow() - moved < timedelta(minutes=1)

    just_now = utcnow() - SEEN_EVERY / 2
    set_seen(shop_app, user_id, "Mobile Safari on iOS", just_now)
    phone.get("/books")
    assert seen_at(shop_app, user_id)["Mobile Safari on iOS"] == just_now, "fresher than SEEN_EVERY: not written"


def assert_the_page_is_served_then_the_next_one_stamps(app, browser: Browser, user_id: int, caplog, held) -> None:
    """While `held` keeps the stamp from being written, /account is served whole; the request after writes it."""
    with held, caplog.at_level(logging.INFO, logger="blasto.web.seen_logins"):
        page = browser.get("/account")
    assert page.status == 200 and "Where you are logged in" in page.text
    assert "last-active time not written" in caplog.text, "given up after SEEN_LOCK_WAIT_MS, not waited out"
    browser.get("/account")  # the lock is gone: the next request writes it
    assert utcnow() - seen_at(app, user_id)["unknown"] < timedelta(minutes=1)


@contextmanager
def sqlite_write_lock(path):
    """Another writer holds SQLite's write lock: pages read, the stamp cannot be written."""
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        yield
    finally:
        writer.close()


@contextmanager
def row_lock(engine, user_id: int):
    """Another transaction holds the user's log-in rows (FOR UPDATE) on Postgres."""
    with engine.connect() as holder:
        holder.execute(select(LoginSession.id).where(LoginSession.user_id == user_id).with_for_update())
        yield
        holder.rollback()


def test_a_database_that_cannot_take_the_stamp_costs_the_page_nothing(shop_app, shopper, tmp_path, caplog):
    browser, user_id = shopper
    set_seen(shop_app, user_id, "unknown", utcnow() - timedelta(hours=1))
    held = sqlite_write_lock(tmp_path / "blasto.sqlite3")
    assert_the_page_is_served_then_the_next_one_stamps(shop_app, browser, user_id, caplog, held)


def test_on_postgres_a_locked_log_in_row_costs_the_page_nothing(pg_app, caplog):
    make_user(pg_app, email=EMAIL)
    browser = Browser(pg_app.test_client())
    log_in(browser, EMAIL)
    with pg_app.app_context():
        (user_id,) = db.session.scalars(select(User.id).where(User.email == EMAIL))
        db.session.remove()
        engine = db.engine
    set_seen(pg_app, user_id, "unknown", utcnow() - timedelta(hours=1))
    # The lock is taken outside the app context: the request must push (and tear down) its own, as in production.
    assert_the_page_is_served_then_the_next_one_stamps(pg_app, browser, user_id, caplog, row_lock(engine, user_id))
