"""Rate limits on the pages (real forms, CSRF tokens included), and their storage.

Each client's address is set the way Heroku's router passes it on
(X-Forwarded-For, read by ProxyFix). The Redis tests use the tests' Redis
database: counts shared by two app instances (two processes' worth), Redis
taken away under a running app by a proxy (fail open), and TLS with a
self-signed certificate, as Heroku's Key-Value Store has.
"""

from __future__ import annotations

import logging

import pytest
import redis
from sqlalchemy import func, select

from blasto.core.config import load_config
from blasto.core.env import ConfigError
from blasto.core.extensions import db
from blasto.models import Purchase, User
from blasto.security.rate_limits import EXTENSION_KEY
from tests.support.factories import PASSWORD, make_book, make_user
from tests.support.form_browser import Browser, Page, log_in
from tests.support.processes import wait_for

LIMITS = {
    "RATELIMIT_LOGIN": "3 per minute",
    "RATELIMIT_LOGIN_PER_ACCOUNT": "100 per minute",
    "RATELIMIT_SIGNUP": "2 per minute",
    "RATELIMIT_CHECKOUT": "2 per minute",
}


def limited(migrated_app_factory, **overrides):
    return migrated_app_factory(RATELIMIT_ENABLED=True, **{**LIMITS, **overrides})


def browser_from(app, address: str) -> Browser:
    """A browser whose requests reach the app through the router from `address`."""
    client = app.test_client()
    client.environ_base["HTTP_X_FORWARDED_FOR"] = address
    return Browser(client)


def post_login(browser: Browser, email: str, password: str = "wrong password!", form=None):
    form = form or browser.get("/login").form("/login")
    return browser.client.post("/login", data=form.data({"email": email, "password": password}))


def assert_throttled_page(response, what: str) -> int:
    """A 429 error page naming what was throttled, with Retry-After in seconds; returns them."""
    assert response.status_code == 429, response.status_code
    assert response.mimetype == "text/html"
    page = Page(response)
    assert f"Too many {what}" in page.text and "Try again in " in page.text and "Traceback" not in page.html
    seconds = int(response.headers["Retry-After"])
    assert 1 <= seconds <= 60
    return seconds


def users(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


# --- settings ----------------------------------------------------------------


def test_settings_default_on_except_in_tests_and_use_redis_when_there_is_one(tmp_path):
    key = {"SECRET_KEY": "q3V8n0cXw1Lk5T7pR2mZ9bH4sJ6dF0gY"}
    production = load_config(key, instance_path=tmp_path)
    assert production["RATELIMIT_ENABLED"] is True and production["RATELIMIT_STORAGE_URI"] == "memory://"
    assert production["RATELIMIT_LOGIN"] == "20 per minute; 200 per hour"
    assert load_config({"BLASTO_ENV": "test"}, instance_path=tmp_path)["RATELIMIT_ENABLED"] is False
    assert (
        load_config({"BLASTO_ENV": "test", "RATELIMIT_ENABLED": "on"}, instance_path=tmp_path)["RATELIMIT_ENABLED"]
        is True
    )
    assert load_config({**key, "RATELIMIT_ENABLED": "false"}, instance_path=tmp_path)["RATELIMIT_ENABLED"] is False
    on_redis = load_config(
        {**key, "REDIS_URL": "redis://h:6379/0", "RATELIMIT_SIGNUP": "5/minute"}, instance_path=tmp_path
    )
    assert on_redis["RATELIMIT_STORAGE_URI"] == "redis://h:6379/0" and on_redis["RATELIMIT_SIGNUP"] == "5/minute"
    assert "ssl_cert_reqs" not in on_redis["RATELIMIT_STORAGE_OPTIONS"]


@pytest.mark.parametrize(
    "variable, value",
    [
        ("RATELIMIT_LOGIN", "lots"),
        ("RATELIMIT_CHECKOUT", "10 per fortnight"),
        ("RATELIMIT_SIGNUP", "0 per minute"),
        ("RATELIMIT_LOGIN_PER_ACCOUNT", "5 per minute; x"),
        ("RATELIMIT_ENABLED", "maybe"),
    ],
)
def test_bad_settings_are_refused_by_name(tmp_path, variable, value):
    with pytest.raises(ConfigError) as caught:
        load_config({"BLASTO_ENV": "development", variable: value}, instance_path=tmp_path)
    assert caught.value.variable == variable and value.split(";")[-1].strip() in str(caught.value)


def test_tests_are_never_throttled_unless_they_ask(migrated_app_factory):
    app = migrated_app_factory(RATELIMIT_LOGIN="1 per minute")  # RATELIMIT_ENABLED left to test mode
    assert app.config["RATELIMIT_ENABLED"] is False and EXTENSION_KEY not in app.extensions
    browser = browser_from(app, "203.0.113.1")
    form = browser.get("/login").form("/login")
    assert [post_login(browser, "a@example.com", form=form).status_code for _ in range(3)] == [400, 400, 400]


# --- each limited page ------------------------------------------------------


def test_login_page_is_throttled_per_address_and_only_posts_count(migrated_app_factory):
    app = limited(migrated_app_factory)
    browser = browser_from(app, "203.0.113.1")
    form = browser.get("/login").form("/login")
    for _ in range(3):
        assert post_login(browser, "a@example.com", form=form).status_code == 400
    for _ in range(5):  # reading the page is never limited
        assert browser.get("/login").status == 200
    assert_throttled_page(post_login(browser, "a@example.com", PASSWORD, form=form), "log-in attempts")
    # Another address is counted on its own.
    assert post_login(browser_from(app, "203.0.113.2"), "a@example.com").status_code == 400


def test_signup_page_is_throttled_and_the_throttled_one_writes_nothing(migrated_app_factory):
    app = limited(migrated_app_factory)
    for n in range(2):
        browser = browser_from(app, "198.51.100.5")
        page = browser.submit(
            browser.get("/signup"),
            "/signup",
            {"name": f"N{n}", "email": f"n{n}@example.com", "password": PASSWORD},
            follow_redirects=False,
        )
        assert page.status == 303
    browser = browser_from(app, "198.51.100.5")
    response = browser.client.post(
        "/signup",
        data=browser.get("/signup")
        .form("/signup")
        .data({"name": "Late", "email": "late@example.com", "password": PASSWORD}),
    )
    assert_throttled_page(response, "sign-ups")
    assert users(app) == 2


def test_checkout_page_is_throttled(migrated_app_factory):
    app = limited(migrated_app_factory, RATELIMIT_LOGIN="10 per minute")
    make_user(app, email="shopper@example.com", name="Sam")
    emma = make_book(app, "Emma", stock=10)
    browser = browser_from(app, "192.0.2.44")
    assert post_login(browser, "shopper@example.com", PASSWORD).status_code == 303
    statuses = []
    for _ in range(3):
        browser.submit(browser.get(f"/books/{emma}"), "/cart/add", {"quantity": "1"})
        review = browser.get("/checkout")
        statuses.append(browser.client.post("/checkout", data=review.form("/checkout").data()))
    assert [response.status_code for response in statuses[:2]] == [303, 303]
    assert_throttled_page(statuses[2], "orders")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Purchase)) == 2


# --- keys -----------------------------------------------------------------------


def test_the_address_is_the_routers_not_the_clients_claim(migrated_app_factory):
    app = limited(migrated_app_factory)
    attacker = browser_from(app, "203.0.113.66")
    form = attacker.get("/login").form("/login")
    for _ in range(3):
        post_login(attacker, "a@example.com", form=form)
    assert post_login(attacker, "a@example.com", form=form).status_code == 429
    # Writing another address first in X-Forwarded-For changes nothing: the router appends the real one.
    attacker.client.environ_base["HTTP_X_FORWARDED_FOR"] = "192.0.2.1, 203.0.113.66"
    assert post_login(attacker, "a@example.com", form=form).status_code == 429
    # ...and a client the router saw elsewhere is not held back by the attacker's claim.
    neighbour = browser_from(app, "203.0.113.66, 192.0.2.1")
    assert post_login(neighbour, "a@example.com").status_code == 400


def test_ipv6_clients_are_counted_per_64(migrated_app_factory):
    app = limited(migrated_app_factory)
    for n in range(3):
        assert post_login(browser_from(app, f"2001:db8:1:2::{n + 1}"), "a@example.com").status_code == 400
    assert post_login(browser_from(app, "2001:db8:1:2:ffff::9"), "a@example.com").status_code == 429
    assert post_login(browser_from(app, "2001:db8:1:3::1"), "a@example.com").status_code == 400


def test_failed_logins_are_counted_per_account_across_addresses(migrated_app_factory):
    app = limited(migrated_app_factory, RATELIMIT_LOGIN="100 per minute", RATELIMIT_LOGIN_PER_ACCOUNT="3 per minute")
    make_user(app, email="target@example.com", name="Tess Target")
    for n in range(3):  # a botnet: one guess from each address
        assert post_login(browser_from(app, f"198.51.100.{n + 1}"), "Target@Example.com ").status_code == 400
    response = post_login(browser_from(app, "198.51.100.50"), "target@example.com")
    assert_throttled_page(response, "failed log-ins for this e-mail address")
    # Other accounts are untouched, and so is every address's own allowance.
    assert post_login(browser_from(app, "198.51.100.1"), "someone@example.com").status_code == 400


def test_the_lockout_after_five_wrong_passwords_says_how_long_to_wait_and_offers_a_password_reset(migrated_app_factory):
    app = limited(migrated_app_factory, RATELIMIT_LOGIN="100 per minute", RATELIMIT_LOGIN_PER_ACCOUNT="5 per minute")
    make_user(app, email="locked@example.com")
    browser = browser_from(app, "198.51.100.60")
    for _ in range(5):
        assert post_login(browser, "locked@example.com").status_code == 400
    response = post_login(browser, "locked@example.com", PASSWORD)  # even the right password waits
    assert_throttled_page(response, "failed log-ins for this e-mail address")
    page = Page(response)
    assert "Try again in 1 minute. Forgot your password? Ask for a link to reset it." in page.text
    assert '<a href="/password-reset">Reset your password</a>' in page.html
    assert browser.get("/password-reset").status == 200, "the reset is open while the log-in waits"


def test_reset_requests_are_limited_per_address_across_networks_and_per_network(migrated_app_factory):
    app = limited(
        migrated_app_factory, RATELIMIT_PASSWORD_RESET="3 per minute", RATELIMIT_PASSWORD_RESET_PER_ACCOUNT="2 per hour"
    )

    def ask(address: str, email: str) -> int:
        browser = browser_from(app, address)
        form = browser.get("/password-reset").form("/password-reset")
        return browser.client.post("/password-reset", data=form.data({"email": email})).status_code

    assert [ask(f"192.0.2.{n}", "Flooded@example.com") for n in range(1, 4)] == [303, 303, 429]
    assert ask("192.0.2.9", "other@example.com") == 303, "another address has its own allowance"
    assert [ask("192.0.2.20", f"reader{n}@example.com") for n in range(4)] == [303, 303, 303, 429]
    api = app.test_client().post(
        "/api/v1/password-reset", json={"email": "flooded@example.com"}, headers={"X-Forwarded-For": "192.0.2.30"}
    )
    assert api.status_code == 429 and "Try again in " in api.get_json()["message"], "the API shares the count"


def test_successful_logins_do_not_use_up_the_accounts_allowance(migrated_app_factory):
    app = limited(migrated_app_factory, RATELIMIT_LOGIN="100 per minute", RATELIMIT_LOGIN_PER_ACCOUNT="2 per minute")
    make_user(app, email="busy@example.com")
    for n in range(4):
        assert post_login(browser_from(app, f"192.0.2.{n + 1}"), "busy@example.com", PASSWORD).status_code == 303


def test_the_login_page_and_the_token_api_share_one_counter(migrated_app_factory):
    app = limited(migrated_app_factory)
    browser = browser_from(app, "203.0.113.7")
    form = browser.get("/login").form("/login")
    assert post_login(browser, "a@example.com", form=form).status_code == 400
    api = app.test_client()
    for _ in range(2):
        assert (
            api.post(
                "/api/v1/tokens", auth=("a@example.com", "nope"), headers={"X-Forwarded-For": "203.0.113.7"}
            ).status_code
            == 401
        )
    assert post_login(browser, "a@example.com", form=form).status_code == 429


# --- storage --------------------------------------------------------------------


def test_two_app_instances_share_their_counts_in_redis(migrated_app_factory, redis_url):
    first = limited(migrated_app_factory, RATELIMIT_STORAGE_URI=redis_url)
    # The same database, already migrated.
    second = migrated_app_factory(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=redis_url, **LIMITS)
    assert first.extensions[EXTENSION_KEY] is not second.extensions[EXTENSION_KEY]
    one, two = browser_from(first, "203.0.113.20"), browser_from(second, "203.0.113.20")
    assert [
        post_login(one, "a@example.com").status_code,
        post_login(two, "a@example.com").status_code,
        post_login(one, "a@example.com").status_code,
    ] == [400, 400, 400]
    assert post_login(two, "a@example.com").status_code == 429
    assert post_login(one, "a@example.com").status_code == 429
    keys = [key.decode() for key in redis.Redis.from_url(redis_url).keys("*")]
    assert any("blasto" in key and "203.0.113.20" in key and "login" in key for key in keys), keys
    assert not any("example.com" in key for key in keys), "e-mail addresses are hashed before they reach Redis"


def test_with_redis_down_requests_are_served_then_counted_again_when_it_returns(
    migrated_app_factory, redis_proxy, caplog
):
    app = limited(migrated_app_factory, RATELIMIT_STORAGE_URI=redis_proxy.url, RATELIMIT_LOGIN="3 per minute")
    client = redis.Redis.from_url(redis_proxy.url)
    assert post_login(browser_from(app, "192.0.2.10"), "a@example.com").status_code == 400
    assert client.keys("*")
    redis_proxy.down()
    with caplog.at_level(logging.WARNING, logger="flask-limiter"):
        browser = browser_from(app, "192.0.2.11")
        # Served, not a 500: counted in memory meanwhile, so the limit still holds in this process.
        assert [post_login(browser, "a@example.com").status_code for _ in range(4)] == [400, 400, 400, 429]
    assert any("falling back to in-memory" in record.getMessage() for record in caplog.records)
    redis_proxy.up()  # same port, empty
    client = redis.Redis.from_url(redis_proxy.url)
    addresses = iter(range(100, 250))

    def counted_in_redis():  # Flask-Limiter probes Redis again after 1, 2, 4... seconds
        assert post_login(browser_from(app, f"192.0.2.{next(addresses)}"), "a@example.com").status_code == 400
        return client.keys("*")

    wait_for(counted_in_redis, 20, interval=0.2, what="the limiter to count in Redis again")


def test_heroku_tls_redis_with_a_self_signed_certificate(migrated_app_factory, redis_url, tmp_path):
    from tests.support.tls_redis import tls_redis

    with tls_redis(tmp_path, redis_url) as url:
        settings = load_config({"BLASTO_ENV": "development", "REDIS_URL": url}, instance_path=tmp_path)
        app = limited(
            migrated_app_factory,
            RATELIMIT_STORAGE_URI=settings["RATELIMIT_STORAGE_URI"],
            RATELIMIT_STORAGE_OPTIONS=settings["RATELIMIT_STORAGE_OPTIONS"],
        )
        browser = browser_from(app, "203.0.113.30")
        assert [post_login(browser, "a@example.com").status_code for _ in range(4)] == [400, 400, 400, 429]
        assert redis.Redis.from_url(url, ssl_cert_reqs="none").keys("*"), "counted in the TLS Redis, not in memory"


def test_a_signed_in_session_cannot_guess_the_password_on_the_account_page(migrated_app_factory):
    app = limited(migrated_app_factory, RATELIMIT_LOGIN="100 per minute", RATELIMIT_ACCOUNT_PASSWORD="3 per minute")
    make_user(app, email="owner@example.com")
    browser = browser_from(app, "198.51.100.70")
    log_in(browser, "owner@example.com")
    guesses = [("/account/password", {"current": "guess one!", "password": "x" * 12, "confirm": "x" * 12})]
    guesses += [("/account/email", {"email": "thief@example.com", "email_current": "guess two!"})]
    guesses += [("/account/delete", {"current": "guess three!"})]
    for action, typed in guesses:  # the three forms share one allowance
        form = browser.get("/account/delete" if action == "/account/delete" else "/account").form(action)
        assert browser.client.post(action, data=form.data(typed)).status_code == 400
    form = browser.get("/account/delete").form("/account/delete")
    response = browser.client.post("/account/delete", data=form.data({"current": PASSWORD}))
    assert_throttled_page(response, "refused changes on your account page")
    with app.app_context():
        assert db.session.scalar(select(User.email).where(User.email == "owner@example.com")), "not deleted"
    assert browser.get("/account").status == 200, "the page itself stays open"
