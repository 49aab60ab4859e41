"""A hidden book is off sale for shoppers everywhere, but their past purchases still show it."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from blasto.core.extensions import db
from blasto.models import OutboxMessage, Product, Purchase, PurchaseItem
from blasto.shop import checkout
from tests.support.factories import (
    count,
    make_admin,
    make_book,
    make_purchase,
    make_user,
    set_hidden,
    shipping,
    stock_of,
)
from tests.support.form_browser import log_in


@pytest.fixture
def books(shop_app):
    """Emma is for sale; Dracula, a best seller, is hidden."""
    emma = make_book(shop_app, "Emma", stock=5, age_days=3)
    dracula = make_book(shop_app, "Dracula", author="Bram Stoker", stock=5)
    buyer = make_user(shop_app, email="earlier@example.com")
    make_purchase(shop_app, buyer, {dracula: 3, emma: 1})
    set_hidden(shop_app, dracula)
    return {"emma": emma, "dracula": dracula}


def test_hidden_books_are_not_in_the_catalogue_search_or_front_page(browser, books):
    catalogue = browser.get("/books")
    assert "Emma" in catalogue.text and "Dracula" not in catalogue.text and "1 book in the catalogue" in catalogue.text
    assert "0 books match" in browser.get("/books?q=dracula").text
    assert "0 books match" in browser.get("/books?q=stoker").text
    home = browser.get("/home")
    assert "Emma" in home.text and "Dracula" not in home.text  # neither new nor best seller


def test_a_hidden_books_page_is_a_404(browser, books):
    page = browser.get(f"/books/{books['dracula']}")
    assert page.status == 404 and "no such book" in page.text


def test_the_front_page_forgets_a_book_as_soon_as_it_is_hidden(shop_app, browser, books):
    assert "Emma" in browser.get("/home").text
    make_admin(shop_app)
    log_in(browser, "admin@example.com")
    browser.submit(browser.get(f"/admin/books/{books['emma']}/edit"), f"/admin/books/{books['emma']}/hide")
    assert "Emma" not in browser.get("/home").text


def test_adding_a_hidden_book_to_the_cart_is_refused(shop_app, browser, books):
    page = browser.get(f"/books/{books['emma']}")
    set_hidden(shop_app, books["emma"])  # hidden while the shopper looked at its page
    page = browser.submit(page, "/cart/add")
    assert page.response.request.path == "/books" and "That book is not in our catalogue." in page.text
    assert "Cart (0" in page.text


def test_a_book_hidden_after_it_went_into_the_cart_is_marked_and_holds_up_checkout(shop_app, browser, books):
    browser.submit(browser.get(f"/books/{books['emma']}"), "/cart/add", {"quantity": "2"})
    set_hidden(shop_app, books["emma"])
    page = browser.get("/cart")
    assert "No longer for sale: please remove it" in page.text and not page.has_form("/cart/update")
    assert f'href="/books/{books["emma"]}"' not in page.html and 'href="/checkout"' not in page.html
    assert "Before checking out, fix the book marked above" in page.text
    page = browser.submit(page, "/cart/remove")
    assert "Removed “Emma” from your cart." in page.text and "Cart (0" in page.text


def test_checking_out_a_book_hidden_after_review_buys_nothing(shop_app, shopper, books):
    browser, _ = shopper
    other = make_book(shop_app, "Persuasion", stock=4)
    browser.submit(browser.get(f"/books/{books['emma']}"), "/cart/add")
    browser.submit(browser.get(f"/books/{other}"), "/cart/add")
    review = browser.get("/checkout")
    assert "Emma" in review.text
    set_hidden(shop_app, books["emma"])
    page = browser.submit(review, "/checkout")
    assert page.response.request.path == "/cart"
    assert "no longer sold and were removed" in page.text
    assert stock_of(shop_app, books["emma"]) == 5 and stock_of(shop_app, other) == 4  # nothing half-written
    assert count(shop_app, Purchase) == 1 and count(shop_app, OutboxMessage) == 0
    assert "Persuasion" in page.text and "Cart (1" in page.text  # the rest of the cart is kept


def test_a_book_hidden_between_the_check_and_the_stock_update_is_still_refused(shop_app, monkeypatch, books):
    """Checkout's first check passes, then the book is hidden: the UPDATE itself refuses it."""
    buyer = make_user(shop_app, email="late@example.com")
    first_check = checkout._refuse_unknown
    calls = []

    def hidden_after_the_check(order):
        calls.append(order)
        if len(calls) == 1:
            first_check(order)
            db.session.execute(update(Product).where(Product.id == books["emma"]).values(hidden=True))
            return None
        return first_check(order)

    monkeypatch.setattr(checkout, "_refuse_unknown", hidden_after_the_check)
    with shop_app.app_context(), pytest.raises(checkout.UnknownProducts) as refused:
        checkout.place_order(buyer, {books["emma"]: 1}, shipping())
    assert refused.value.product_ids == [books["emma"]] and len(calls) == 2
    assert (
        stock_of(shop_app, books["emma"]) == 5 and count(shop_app, Purchase) == 1 and count(shop_app, PurchaseItem) == 2
    )


def test_past_purchases_still_show_a_hidden_book(shop_app, shopper, books):
    browser, user_id = shopper
    purchase = make_purchase(shop_app, user_id, {books["emma"]: 2})
    set_hidden(shop_app, books["emma"])
    history = browser.get("/purchases")
    assert f"Order #{purchase}" in history.text and "Emma" in history.text
    page = browser.get(f"/purchases/{purchase}")
    assert page.status == 200 and "Emma" in page.text and "$23.98" in page.text
    assert "(no longer for sale)" in page.text and f'href="/books/{books["emma"]}"' not in page.text, (
        "no link to a page that 404s"
    )


def test_showing_a_book_again_puts_it_back_on_sale(shop_app, browser, books):
    set_hidden(shop_app, books["dracula"], hidden=False)
    assert "Dracula" in browser.get("/books").text and "Dracula" in browser.get("/home").text
    assert browser.get(f"/books/{books['dracula']}").status == 200
