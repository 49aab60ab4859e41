"""Checkout and purchase history through the pages."""

import pytest

from blasto.models import Purchase, PurchaseItem
from tests.support.factories import count, make_book, make_purchase, make_user, stock_of
from tests.support.form_browser import log_in


def fill_cart(browser, lines):
    page = None
    for book_id, quantity in lines.items():
        page = browser.submit(browser.get(f"/books/{book_id}"), "/cart/add", {"quantity": str(quantity)})
    return page


def test_checkout_needs_an_account_and_comes_back_to_it(shop_app, browser):
    emma = make_book(shop_app, "Emma", stock=3)
    make_user(shop_app, email="reader@example.com")
    fill_cart(browser, {emma: 1})
    response = browser.client.get("/checkout")
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=%2Fcheckout"
    page = log_in(browser, "reader@example.com", next_url="/checkout")
    assert page.response.request.path == "/checkout" and "Standard: free (total $11.99)" in page.text


def test_insufficient_stock_shows_the_message_on_the_cart_and_writes_nothing(shop_app, shopper):
    browser, _ = shopper
    emma = make_book(shop_app, "Emma", stock=5)
    dracula = make_book(shop_app, "Dracula", stock=3)
    fill_cart(browser, {emma: 2, dracula: 3})
    review = browser.get("/checkout")
    with shop_app.app_context():  # someone else buys one Dracula meanwhile
        from blasto.core.extensions import db
        from blasto.models import Product

        db.session.get(Product, dracula).stock = 2
        db.session.commit()
    page = browser.submit(review, "/checkout")
    assert page.response.request.path == "/cart"
    assert "Only 2 left of “Dracula” (you asked for 3)." in page.text and 'role="alert"' in page.html
    assert "Cart (5" in page.text  # the cart is kept
    assert stock_of(shop_app, emma) == 5 and stock_of(shop_app, dracula) == 2
    assert count(shop_app, Purchase) == 0 and count(shop_app, PurchaseItem) == 0


def test_a_double_submitted_checkout_buys_once(shop_app, shopper):
    browser, _ = shopper
    emma = make_book(shop_app, "Emma", stock=5)
    fill_cart(browser, {emma: 2})
    review = browser.get("/checkout")
    form = review.form("/checkout").data()
    cookie = browser.session_cookie()

    first = browser.client.post("/checkout", data=form)
    assert first.status_code == 303 and first.headers["Location"].startswith("/purchases/")
    # The second click left before the first answer came back: same cookie, same form.
    browser.client.set_cookie("session", cookie)
    second = browser.client.post("/checkout", data=form)
    assert second.status_code == 303 and second.headers["Location"] == first.headers["Location"]
    # And once more after the first answer emptied the cart.
    third = browser.client.post("/checkout", data=form, follow_redirects=True)
    assert third.request.path == first.headers["Location"] and "This order was already placed." in third.get_data(
        as_text=True
    )
    assert count(shop_app, Purchase) == 1 and stock_of(shop_app, emma) == 3


def test_a_cart_changed_after_review_is_not_bought_unseen(shop_app, shopper):
    browser, _ = shopper
    emma = make_book(shop_app, "Emma", stock=5)
    fill_cart(browser, {emma: 1})
    review = browser.get("/checkout")
    fill_cart(browser, {emma: 2})  # another tab
    page = browser.submit(review, "/checkout")
    assert page.response.request.path == "/checkout" and "Your cart changed since you reviewed it" in page.text
    assert "Standard: free (total $35.97)" in page.text
    assert count(shop_app, Purchase) == 0
    page = browser.submit(page, "/checkout")
    assert "is placed" in page.text and stock_of(shop_app, emma) == 2


def test_checkout_with_an_empty_cart_goes_back_to_the_cart(shop_app, shopper):
    browser, _ = shopper
    page = browser.get("/checkout")
    assert page.response.request.path == "/cart" and "Your cart is empty." in page.text


@pytest.mark.parametrize("field", ["idempotency_key", "cart_digest"])
def test_a_tampered_checkout_form_buys_nothing(shop_app, shopper, field):
    browser, _ = shopper
    emma = make_book(shop_app, "Emma", stock=5)
    fill_cart(browser, {emma: 1})
    page = browser.submit(browser.get("/checkout"), "/checkout", {field: "<script>"})
    assert "The checkout form was incomplete" in page.text and count(shop_app, Purchase) == 0


def test_another_users_purchase_is_404(shop_app, shopper):
    browser, own_id = shopper
    emma = make_book(shop_app, "Emma")
    other = make_user(shop_app, email="other@example.com")
    theirs = make_purchase(shop_app, other, {emma: 1})
    mine = make_purchase(shop_app, own_id, {emma: 2})
    assert browser.get(f"/purchases/{mine}").status == 200
    response = browser.client.get(f"/purchases/{theirs}")
    assert response.status_code == 404 and "There is no such purchase in your history." in response.get_data(
        as_text=True
    )
    assert f"Order #{theirs}" not in browser.get("/purchases").text


def test_history_is_newest_first_and_paginated(shop_app, shopper):
    browser, user_id = shopper
    emma = make_book(shop_app, "Emma", price_cents=1000)
    ids = [make_purchase(shop_app, user_id, {emma: n}, age_days=30 - n) for n in range(1, 13)]  # ids[-1] is newest
    first = browser.get("/purchases")
    assert "Page 1 of 2" in first.text
    shown = [i for i in ids if f"Order #{i}<" in first.html]
    assert len(shown) == 10 and ids[0] not in shown and ids[1] not in shown
    assert first.html.index(f"Order #{ids[-1]}<") < first.html.index(f"Order #{ids[-2]}<")
    assert "12 books: Emma" in first.text and "Total $120.00" in first.text
    second = browser.get("/purchases?page=2")
    assert f"Order #{ids[0]}<" in second.html and f"Order #{ids[1]}<" in second.html
    for bad in ("0", "3", "x", "99999999999999"):
        assert browser.client.get(f"/purchases?page={bad}").status_code == 404


def test_history_without_purchases(shop_app, shopper):
    browser, _ = shopper
    page = browser.get("/purchases")
    assert page.status == 200 and "You have not bought anything yet." in page.text
