"""Sign-up, log-in, log-out: validation, session renewal and safe redirects."""

from urllib.parse import urlencode

import pytest

from blasto.models import User
from tests.support.factories import PASSWORD, count, make_book, make_user
from tests.support.form_browser import log_in


def test_log_in_and_log_out(shop_app, browser):
    make_user(shop_app, email="reader@example.com", name="Rita Reader")
    page = log_in(browser, "  READER@example.com ")
    assert "Welcome back, Rita Reader." in page.text and page.response.request.path == "/home"
    assert browser.get("/purchases").status == 200

    page = browser.submit(page, "/logout")
    assert "You are logged out." in page.text and "Rita Reader" not in page.text
    page = browser.get("/purchases")
    assert page.response.request.path == "/login" and "Please log in to see that page." in page.text


def test_logout_is_a_post_with_a_token_not_a_link(shop_app, shopper):
    browser, _ = shopper
    assert browser.client.get("/logout").status_code == 405
    assert browser.client.post("/logout").status_code == 400  # no CSRF token
    assert "Sam Shopper" in browser.get("/home").text  # still logged in


@pytest.mark.parametrize("email", ["reader@example.com", "nobody@example.com"])
def test_wrong_password_and_unknown_email_get_the_same_answer(shop_app, browser, email):
    make_user(shop_app, email="reader@example.com")
    page = log_in(browser, email, password="not the password")
    assert page.status == 400
    assert "Wrong e-mail or password." in page.text
    assert "Welcome back" not in page.text and not page.has_form("/logout")
    assert page.form("/login").value("email") == email  # kept, so only the password is retyped
    assert page.form("/login").value("password") == ""


def test_login_form_field_errors(shop_app, browser):
    page = browser.submit(browser.get("/login"), "/login", {"email": "", "password": ""})
    assert page.status == 400
    assert "Please enter your e-mail address." in page.text and "Please enter your password." in page.text


def test_sign_up_refuses_a_taken_email_with_a_field_error(shop_app, browser):
    make_user(shop_app, email="taken@example.com")
    page = browser.submit(
        browser.get("/signup"),
        "/signup",
        {"name": "Second", "email": " Taken@Example.com", "password": "another passphrase"},
    )
    assert page.status == 400
    assert 'id="email-error"' in page.html and "An account with this e-mail already exists" in page.text
    assert count(shop_app, User) == 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "", "email": "a@example.com", "password": "long enough"}, "name", "Please enter your name."),
        ({"name": "   ", "email": "a@example.com", "password": "long enough"}, "name", "Please enter your name."),
        (
            {"name": "N" * 101, "email": "a@example.com", "password": "long enough"},
            "name",
            "Use at most 100 characters.",
        ),
        (
            {"name": "Ann", "email": "not-an-email", "password": "long enough"},
            "email",
            "That does not look like an e-mail address.",
        ),
        (
            {"name": "Ann", "email": "a@example.com", "password": "short"},
            "password",
            "Use between 10 and 128 characters.",
        ),
        (
            {"name": "Ann", "email": "a@example.com", "password": "x" * 129},
            "password",
            "Use between 10 and 128 characters.",
        ),
    ],
)
def test_sign_up_validation_shows_errors_next_to_fields(shop_app, browser, data, field, message):
    page = browser.submit(browser.get("/signup"), "/signup", data)
    assert page.status == 400
    assert f'id="{field}-error"' in page.html and message in page.text
    field_input = next(control for control in page.controls if control.get("id") == field)
    assert f"{field}-error" in field_input["aria-describedby"] and field_input["aria-invalid"] == "true"
    assert count(shop_app, User) == 0


def test_login_renews_the_session_and_keeps_the_cart(shop_app, browser):
    make_user(shop_app, email="reader@example.com")
    book = make_book(shop_app, "Emma")
    page = browser.submit(browser.get(f"/books/{book}"), "/cart/add")
    assert "Cart (1" in page.text
    login_page = browser.get("/login")
    old_token = login_page.form("/login").value("csrf_token")
    before = browser.session_cookie()

    page = browser.submit(login_page, "/login", {"email": "reader@example.com", "password": PASSWORD})
    assert "Welcome back" in page.text and "Cart (1" in page.text  # the cart survived
    after = browser.session_cookie()
    assert before and after and before != after

    # A token from before the login no longer works for anything.
    response = browser.client.post("/cart/add", data={"csrf_token": old_token, "product_id": book, "quantity": 1})
    assert response.status_code == 400 and "This form has expired" in response.get_data(as_text=True)
    assert "Cart (1" in browser.get("/cart").text
    new_token = browser.get("/cart").form("/logout").value("csrf_token")
    assert new_token != old_token


def test_remember_me_sets_a_long_lived_cookie_only_when_asked(shop_app, browser):
    make_user(shop_app, email="reader@example.com")
    log_in(browser, "reader@example.com")
    assert browser.client.get_cookie("remember_token") is None
    browser.submit(browser.get("/home"), "/logout")
    log_in(browser, "reader@example.com", remember=True)
    assert browser.client.get_cookie("remember_token") is not None
    browser.submit(browser.get("/home"), "/logout")
    assert browser.client.get_cookie("remember_token") is None  # logging out forgets the device too
    assert "Log in" in browser.get("/home").text


def test_pages_needing_login_send_there_and_back(shop_app, browser):
    make_user(shop_app, email="reader@example.com")
    response = browser.client.get("/purchases")
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=%2Fpurchases"
    page = log_in(browser, "reader@example.com", next_url="/purchases")
    assert page.response.request.path == "/purchases" and "Your purchases" in page.text


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "https://evil.com",
        "http://evil.com/home",
        "/\\evil.com",
        "\\\\evil.com",
        "javascript:alert(1)",
        "///evil.com",
        "/\t/evil.com",
        " //evil.com",
        "evil.com",
        "https:/evil.com",
        "/%0a/evil.com\n",
    ],
)
@pytest.mark.sweep
def test_next_never_leaves_the_site(shop_app, browser, target):
    make_user(shop_app, email="reader@example.com")
    query = urlencode({"next": target})
    login_page = browser.get(f"/login?{query}")
    response = browser.client.post(
        f"/login?{query}", data=login_page.form("/login").data({"email": "reader@example.com", "password": PASSWORD})
    )
    assert response.status_code == 303 and "Welcome back" in browser.get("/home").text
    assert response.headers["Location"] == "/home", f"{target!r} -> {response.headers['Location']!r}"
    # Already logged in: the login page redirects at once, just as safely.
    response = browser.client.get(f"/login?{query}")
    assert response.status_code == 303 and response.headers["Location"] == "/home"


@pytest.mark.parametrize("target", ["/cart", "/books?q=emma&page=2", "/books/3"])
def test_a_relative_next_is_followed(shop_app, browser, target):
    make_user(shop_app, email="reader@example.com")
    page = log_in(browser, "reader@example.com", next_url=target)
    assert page.response.request.full_path.rstrip("?") == target


def test_signup_follows_a_safe_next_and_refuses_an_unsafe_one(shop_app, browser):
    page = browser.get("/signup?next=/cart")
    response = browser.client.post(
        "/signup?next=/cart",
        data=page.form("/signup").data({"name": "A", "email": "a@example.com", "password": "long enough"}),
    )
    assert response.status_code == 303 and response.headers["Location"] == "/cart"
    browser.submit(browser.get("/home"), "/logout")
    page = browser.get("/signup?next=//evil.com")
    response = browser.client.post(
        "/signup?next=//evil.com",
        data=page.form("/signup").data({"name": "B", "email": "b@example.com", "password": "long enough"}),
    )
    assert response.status_code == 303 and response.headers["Location"] == "/home"


def test_safe_next_is_kept_through_a_failed_attempt(shop_app, browser):
    make_user(shop_app, email="reader@example.com")
    page = log_in(browser, "reader@example.com", password="wrong password", next_url="/cart?x=1")
    assert page.status == 400
    page = browser.submit(page, "/login", {"email": "reader@example.com", "password": PASSWORD})
    assert page.response.request.full_path == "/cart?x=1"


def test_logged_in_users_skip_the_login_and_signup_forms(shop_app, shopper):
    browser, _ = shopper
    for path in ("/login", "/signup"):
        response = browser.client.get(path)
        assert response.status_code == 303 and response.headers["Location"] == "/home"
