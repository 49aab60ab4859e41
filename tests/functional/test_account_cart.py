"""The cart belongs to the account once signed in: merged at log-in, kept at log-out, the same on every device."""

from __future__ import annotations

import pytest

from blasto.core.extensions import db
from blasto.models import Product
from blasto.shop import account_cart
from blasto.shop.cart import MAX_QUANTITY
from tests.support.carts import add_to_cart, cart_on_page, log_out, stored_cart
from tests.support.factories import make_book, make_user, set_hidden
from tests.support.form_browser import Browser, log_in
from tests.support.tiers import POSTGRES_PARAM

READER = "reader@example.com"


@pytest.fixture(params=["sqlite", POSTGRES_PARAM])
def either_app(request):
    """The shop on each database it runs on (the cart's writes are upserts in each one's dialect)."""
    return request.getfixturevalue("shop_app" if request.param == "sqlite" else "pg_app")


def device(app) -> Browser:
    return Browser(app.test_client())


def test_a_cart_filled_while_signed_out_is_added_to_the_accounts_at_log_in(shop_app, browser):
    reader = make_user(shop_app, email=READER)
    emma = make_book(shop_app, "Emma", stock=5)
    dracula = make_book(shop_app, "Dracula", stock=5)
    other = device(shop_app)
    log_in(other, READER)
    add_to_cart(other, emma, 1)  # already in the account's cart, from another device

    add_to_cart(browser, emma, 2)
    add_to_cart(browser, dracula, 1)
    page = log_in(browser, READER, next_url="/cart")

    assert "Welcome back" in page.text and "Cart (4" in page.text
    assert cart_on_page(page) == {emma: 3, dracula: 1}
    assert stored_cart(shop_app, reader) == {emma: 3, dracula: 1}
    assert cart_on_page(other.get("/cart")) == {emma: 3, dracula: 1}


def test_logging_out_keeps_the_cart_on_the_account_and_leaves_the_visitor_with_an_empty_one(shop_app, browser):
    reader = make_user(shop_app, email=READER)
    emma = make_book(shop_app, "Emma", stock=5)
    log_in(browser, READER)
    add_to_cart(browser, emma, 2)

    page = log_out(browser)
    assert "You are logged out." in page.text and "Cart (0" in page.text
    assert "Your cart is empty." in browser.get("/cart").text
    assert stored_cart(shop_app, reader) == {emma: 2}

    page = log_in(browser, READER, next_url="/cart")
    assert cart_on_page(page) == {emma: 2} and "Cart (2" in page.text


def test_a_second_device_sees_the_same_cart_and_each_others_changes(either_app):
    app = either_app
    make_user(app, email=READER)
    emma = make_book(app, "Emma", stock=5)
    dracula = make_book(app, "Dracula", stock=5)
    phone, laptop = device(app), device(app)
    log_in(phone, READER)
    add_to_cart(phone, emma, 2)

    log_in(laptop, READER)
    page = laptop.get("/cart")
    assert cart_on_page(page) == {emma: 2}
    page = laptop.submit(page, "/cart/update", {"quantity": "4"}, match={"product_id": emma})
    assert "Your cart is updated." in page.text
    add_to_cart(laptop, dracula, 1)

    assert cart_on_page(phone.get("/cart")) == {emma: 4, dracula: 1}
    page = phone.submit(phone.get("/cart"), "/cart/remove", match={"product_id": emma})
    assert "Removed “Emma” from your cart." in page.text
    assert cart_on_page(laptop.get("/cart")) == {dracula: 1} and "Cart (1" in laptop.get("/home").text


def test_the_merge_stops_at_the_stock_and_at_the_per_book_limit_and_says_so(shop_app, browser):
    reader = make_user(shop_app, email=READER)
    emma = make_book(shop_app, "Emma", stock=3)
    atlas = make_book(shop_app, "Atlas", stock=500)
    other = device(shop_app)
    log_in(other, READER)
    add_to_cart(other, emma, 2)
    add_to_cart(other, atlas, 60)

    add_to_cart(browser, emma, 3)
    add_to_cart(browser, atlas, 60)
    page = log_in(browser, READER, next_url="/cart")

    assert "limited to the copies we have" in page.text
    assert cart_on_page(page) == {emma: 3, atlas: MAX_QUANTITY}
    assert stored_cart(shop_app, reader) == {emma: 3, atlas: MAX_QUANTITY}


def test_a_book_hidden_while_the_visitor_shopped_is_left_out_of_the_merge(shop_app, browser):
    reader = make_user(shop_app, email=READER)
    emma = make_book(shop_app, "Emma", stock=5)
    dracula = make_book(shop_app, "Dracula", stock=5)
    add_to_cart(browser, emma, 1)
    add_to_cart(browser, dracula, 1)
    set_hidden(shop_app, dracula)

    page = log_in(browser, READER, next_url="/cart")
    assert "no longer for sale" in page.text and cart_on_page(page) == {emma: 1}
    assert stored_cart(shop_app, reader) == {emma: 1}


def test_checkout_empties_the_account_cart_on_every_device(shop_app, browser):
    reader = make_user(shop_app, email=READER)
    emma = make_book(shop_app, "Emma", stock=5)
    log_in(browser, READER)
    add_to_cart(browser, emma, 2)
    other = device(shop_app)
    log_in(other, READER)
    assert "Cart (2" in other.get("/home").text

    page = browser.submit(browser.get("/checkout"), "/checkout")
    assert "Order #" in page.text and "is placed" in page.text and "Cart (0" in page.text
    assert stored_cart(shop_app, reader) == {}
    assert "Cart (0" in other.get("/home").text and "Your cart is empty." in other.get("/cart").text


def test_a_hidden_book_in_the_stored_cart_is_marked_and_a_deleted_one_drops_out(either_app):
    app = either_app
    reader = make_user(app, email=READER)
    emma = make_book(app, "Emma", stock=5)
    dracula = make_book(app, "Dracula", stock=5)
    villette = make_book(app, "Villette", stock=5)
    browser = device(app)
    log_in(browser, READER)
    for book in (emma, dracula, villette):
        add_to_cart(browser, book, 1)
    log_out(browser)
    set_hidden(app, emma)
    with app.app_context():
        db.session.delete(db.session.get(Product, dracula))
        db.session.commit()

    page = log_in(browser, READER, next_url="/cart")
    assert "Emma" in page.text and "No longer for sale: please remove it" in page.text
    assert "Dracula" not in page.text.split("Your cart", 2)[-1] and cart_on_page(page) == {villette: 1}
    assert 'aria-describedby="checkout-blocked"' in page.html  # checkout waits until the hidden book goes
    assert stored_cart(app, reader) == {emma: 1, villette: 1}
    page = browser.submit(page, "/cart/remove", match={"product_id": emma})
    assert "Removed “Emma” from your cart." in page.text and stored_cart(app, reader) == {villette: 1}


def test_a_cookie_cart_in_a_session_signed_in_before_this_release_joins_the_account(shop_app, browser):
    reader = make_user(shop_app, email=READER)
    emma = make_book(shop_app, "Emma", stock=5)
    log_in(browser, READER)
    with browser.client.session_transaction() as session:  # what the cookie of the previous release held
        session["cart"] = {str(emma): 2}

    assert "Cart (2" in browser.get("/home").text
    assert stored_cart(shop_app, reader) == {emma: 2}
    assert cart_on_page(log_in(device(shop_app), READER, next_url="/cart")) == {emma: 2}


def test_a_save_from_a_stale_read_keeps_the_line_another_device_added_meanwhile(either_app):
    app = either_app
    reader = make_user(app, email=READER)
    emma = make_book(app, "Emma", stock=5)
    dracula = make_book(app, "Dracula", stock=5)
    with app.app_context():
        account_cart.store(reader, {emma: 1})
        read_by_the_phone = account_cart.load(reader)
        account_cart.store(reader, {emma: 1, dracula: 2})  # the laptop adds Dracula
        account_cart.store(reader, {**read_by_the_phone, emma: 3}, was=read_by_the_phone)  # the phone's change
    assert stored_cart(app, reader) == {emma: 3, dracula: 2}
