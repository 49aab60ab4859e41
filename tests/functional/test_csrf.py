"""Every form needs its CSRF token: without it (or with someone else's) the post is refused and nothing changes."""

import html

import pytest

from blasto.models import Purchase, User
from tests.support.factories import count, make_book, stock_of
from tests.support.form_browser import Browser


@pytest.fixture
def ready(shop_app, shopper):
    """A logged-in shopper with two books in the cart, on the checkout page."""
    browser, _ = shopper
    emma = make_book(shop_app, "Emma", stock=5)
    dracula = make_book(shop_app, "Dracula", stock=5)
    for book in (emma, dracula):
        browser.submit(browser.get(f"/books/{book}"), "/cart/add")
    return browser, emma, dracula


def state(shop_app, browser, emma):
    """Everything a forged post could change."""
    cart = browser.get("/cart")
    return {
        "users": count(shop_app, User),
        "purchases": count(shop_app, Purchase),
        "stock": stock_of(shop_app, emma),
        "cart": {c["id"]: c["value"] for c in cart.controls if c.get("name") == "quantity"},
        "logged_in": cart.has_form("/logout"),
    }


FORMS = {
    "/signup": lambda emma: {"name": "Eve", "email": "eve@example.com", "password": "long enough"},
    "/login": lambda emma: {"email": "shopper@example.com", "password": "correct horse battery"},
    "/logout": lambda emma: {},
    "/cart/add": lambda emma: {"product_id": emma, "quantity": 3},
    "/cart/update": lambda emma: {"product_id": emma, "quantity": 7},
    "/cart/remove": lambda emma: {"product_id": emma},
    "/checkout": None,  # filled from the real review page below
}


PAGES_WITH_THEIR_FORM = {"/signup", "/login", "/checkout"}


@pytest.mark.parametrize("action", sorted(FORMS))
@pytest.mark.parametrize("token", ["missing", "foreign", "garbage"])
@pytest.mark.sweep
def test_a_form_posted_without_its_token_is_refused_and_changes_nothing(shop_app, ready, action, token):
    browser, emma, _ = ready
    if FORMS[action] is None:
        data = browser.get("/checkout").form("/checkout").data(drop=("csrf_token",))
    else:
        data = FORMS[action](emma)
    if token == "foreign":  # a valid token, but for another visitor's session
        stranger = Browser(shop_app.test_client())
        data["csrf_token"] = stranger.get("/login").form("/login").value("csrf_token")
    elif token == "garbage":
        data["csrf_token"] = "not-a-token"
    before = state(shop_app, browser, emma)
    assert before["cart"] and before["logged_in"]

    response = browser.client.post(action, data=data)
    body = html.unescape(response.get_data(as_text=True))
    if action in PAGES_WITH_THEIR_FORM:  # back to the form, with a message (tests/functional/test_expired_forms.py)
        assert response.status_code == 303 and response.headers["Location"] == action
    else:  # a button with no page of its own, and no Referer to go back to: a plain 400 page
        assert response.status_code == 400 and response.mimetype == "text/html"
        assert "We couldn't use that request" in body and "This form has expired" in body and "Traceback" not in body
    assert state(shop_app, browser, emma) == before
