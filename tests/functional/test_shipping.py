"""Checkout asks where to ship and how: the address is checked, kept on the account, copied onto the order; shipping is priced."""

import pytest
from sqlalchemy import select

from blasto.core.extensions import db
from blasto.core.shipping_settings import shipping_settings
from blasto.models import Purchase, SavedAddress
from blasto.shop.shipping import MAX_SAVED_ADDRESSES
from tests.support.factories import ADMIN, SHIPPING_ADDRESS, count, make_admin, make_book, make_purchase
from tests.support.form_browser import Browser, Page, log_in


def fill_cart(browser, lines):
    for book_id, quantity in lines.items():
        browser.submit(browser.get(f"/books/{book_id}"), "/cart/add", {"quantity": str(quantity)})


def order_row(app, purchase_id: int) -> Purchase:
    with app.app_context():
        purchase = db.session.get(Purchase, purchase_id)
        db.session.expunge(purchase)
        return purchase


def placed_id(page: Page) -> int:
    path = page.response.request.path
    assert path.startswith("/purchases/"), (path, page.text[:500])
    return int(path.rsplit("/", 1)[1])


@pytest.fixture
def priced(shop_app):
    """The shop's default prices: standard $4.99, free from $50; express $14.99."""
    shop_app.config["SHIPPING"] = shipping_settings({})
    return shop_app


def test_a_first_checkout_asks_for_an_address_and_the_order_keeps_a_copy(priced, shopper):
    browser, user_id = shopper
    emma = make_book(priced, "Emma", price_cents=1199, stock=3)
    fill_cart(browser, {emma: 1})
    review = browser.get("/checkout")
    assert review.form("/checkout").value("address") == "new"
    assert "Standard: $4.99 (total $16.98)" in review.text and "Express: $14.99 (total $26.98)" in review.text
    typed = {**SHIPPING_ADDRESS, "name": "  Ada  Reader ", "line2": "Flat 2", "shipping_option": "express"}
    page = browser.submit(review, "/checkout", typed)
    purchase_id = placed_id(page)
    row = order_row(priced, purchase_id)
    assert (row.total_cents, row.shipping_cents, row.shipping_option) == (1199 + 1499, 1499, "express")
    assert (row.ship_name, row.ship_line2, row.ship_city, row.ship_country) == ("Ada  Reader", "Flat 2", "Dublin", "IE")
    assert "Books $11.99" in page.text and "Shipping (Express) $14.99" in page.text and "Total $26.98" in page.text
    assert "Ship to" in page.text and "Ada  Reader" in page.html and "Flat 2" in page.text and "Ireland" in page.text
    with priced.app_context():
        (saved,) = db.session.scalars(select(SavedAddress).where(SavedAddress.user_id == user_id)).all()
        assert (saved.name, saved.line2) == ("Ada  Reader", "Flat 2")


def test_standard_shipping_is_free_from_the_threshold_on(priced, shopper):
    browser, _ = shopper
    dear = make_book(priced, "Dear", price_cents=2500, stock=3)
    fill_cart(browser, {dear: 2})
    review = browser.get("/checkout")
    assert "Standard: free (total $50.00)" in review.text
    row = order_row(priced, placed_id(browser.submit(review, "/checkout")))
    assert (row.total_cents, row.shipping_cents, row.shipping_option) == (5000, 0, "standard")


def test_the_next_checkout_offers_the_saved_address_and_a_later_edit_leaves_past_orders_be(priced, shopper):
    browser, user_id = shopper
    emma = make_book(priced, "Emma", stock=5)
    fill_cart(browser, {emma: 1})
    first = placed_id(browser.submit(browser.get("/checkout"), "/checkout"))
    fill_cart(browser, {emma: 1})
    review = browser.get("/checkout")
    with priced.app_context():
        saved = db.session.scalars(select(SavedAddress).where(SavedAddress.user_id == user_id)).one()
        saved_id = saved.id
    assert review.form("/checkout").value("address") == str(saved_id)
    assert "1 Book Street" in review.text and "A new address" in review.text
    # The saved address is used as it is: fields typed in the "new" boxes do not count unless chosen.
    second = placed_id(browser.submit(review, "/checkout", {"name": "Someone Else"}))
    assert order_row(priced, second).ship_name == "Ada Reader"
    with priced.app_context():
        db.session.get(SavedAddress, saved_id).line1 = "9 Moved Road"
        db.session.commit()
    assert order_row(priced, first).ship_line1 == "1 Book Street"
    assert "1 Book Street" in browser.get(f"/purchases/{first}").text


def test_a_shopper_keeps_a_bounded_number_of_addresses(priced, shopper):
    browser, user_id = shopper
    emma = make_book(priced, "Emma", stock=MAX_SAVED_ADDRESSES + 5)
    for number in range(MAX_SAVED_ADDRESSES + 2):
        fill_cart(browser, {emma: 1})
        review = browser.get("/checkout")
        placed_id(browser.submit(review, "/checkout", {"address": "new", "line1": f"{number} Book Street"}))
    with priced.app_context():
        kept = db.session.scalars(select(SavedAddress.line1).where(SavedAddress.user_id == user_id)).all()
    assert len(kept) == MAX_SAVED_ADDRESSES and "0 Book Street" not in kept and "11 Book Street" in kept


@pytest.mark.parametrize(
    ("typed", "field", "says"),
    [
        ({"name": "   "}, "name", "Please enter the recipient"),
        ({"line1": "x" * 101}, "line1", "at most 100"),
        ({"city": "Dub\x00lin"}, "city", "control characters"),
        ({"postal_code": "D02\tX285"}, "postal_code", "control characters"),
        ({"country": "XX"}, "country", "We ship to"),
        ({"country": "US", "postal_code": "D02 X285"}, "postal_code", "5 digits"),
        ({"address": "999999"}, "address", "saved address is gone"),
        ({"address": "99999999999999999999"}, "address", "saved address is gone"),
        ({"shipping_option": "teleport"}, "shipping_option", "No shipping option"),
    ],
)
@pytest.mark.sweep
def test_a_bad_address_or_option_is_shown_with_what_the_shopper_typed(priced, shopper, typed, field, says):
    browser, _ = shopper
    emma = make_book(priced, "Emma", stock=3)
    fill_cart(browser, {emma: 1})
    page = browser.submit(browser.get("/checkout"), "/checkout", {"line2": "Kept <b>as typed</b>", **typed})
    assert page.status == 400 and page.response.request.path == "/checkout"
    assert says in page.text and f'id="{field}-error"' in page.html
    assert "Kept &lt;b&gt;as typed&lt;/b&gt;" in page.html  # what was typed comes back, escaped
    assert count(priced, Purchase) == 0
    # Put right, the same form places the order.
    placed_id(browser.submit(page, "/checkout", {**SHIPPING_ADDRESS, "address": "new", "shipping_option": "standard"}))


def test_an_order_from_before_shipping_shows_no_address_and_no_shipping(priced, shopper):
    browser, user_id = shopper
    emma = make_book(priced, "Emma", price_cents=1199)
    purchase_id = make_purchase(priced, user_id, {emma: 1})
    page = browser.get(f"/purchases/{purchase_id}")
    assert page.status == 200 and "Total $11.99" in page.text
    assert "Ship to" not in page.text and "Shipping (" not in page.text


def test_the_admin_sees_where_each_order_goes_and_how(priced, shopper):
    browser, _ = shopper
    emma = make_book(priced, "Emma", stock=3)
    fill_cart(browser, {emma: 1})
    purchase_id = placed_id(browser.submit(browser.get("/checkout"), "/checkout", {"shipping_option": "express"}))
    office = Browser(priced.test_client())
    make_admin(priced, ADMIN)
    log_in(office, ADMIN)
    assert "Dublin, IE (Express)" in office.get("/admin/purchases").text
    order = office.get(f"/admin/purchases/{purchase_id}").text
    assert "Ship to Ada Reader 1 Book Street D02 X285 Dublin Ireland" in order and "Shipping (Express) $14.99" in order
