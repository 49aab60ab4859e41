"""The cart in the session: anonymous use, limits, and bad input that never becomes a 500."""

import pytest

from tests.support.factories import make_book


def cart_with(browser, book_id, quantity=1):
    page = browser.get(f"/books/{book_id}")
    return browser.submit(page, "/cart/add", {"quantity": str(quantity)})


def test_the_cart_works_without_an_account(shop_app, browser):
    emma = make_book(shop_app, "Emma", price_cents=1199, stock=5)
    page = cart_with(browser, emma, 2)
    assert page.response.request.path == "/cart" and "Emma" in page.text and "Total $23.98" in page.text
    assert not page.has_form("/logout")


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("0", "Choose from 1 to 100."),
        ("-3", "Choose from 1 to 100."),
        ("101", "Choose from 1 to 100."),
        ("99999999999999999999999", "Enter a whole number."),
        ("1.5", "Enter a whole number."),
        ("two", "Enter a whole number."),
        ("1e3", "Enter a whole number."),
        ("1_0", "Enter a whole number."),
        ("", "Please enter a quantity."),
    ],
)
@pytest.mark.sweep
def test_adding_a_bad_quantity_shows_the_error_next_to_the_field(shop_app, browser, quantity, message):
    emma = make_book(shop_app, "Emma", stock=500)
    page = cart_with(browser, emma, quantity)
    assert page.status == 400 and page.response.request.path == "/cart/add"
    assert message in page.text and 'id="quantity-error"' in page.html
    field = next(c for c in page.controls if c.get("name") == "quantity")
    assert field["aria-describedby"] == "quantity-error" and field["aria-invalid"] == "true"
    assert "Cart (0" in browser.get("/cart").text


@pytest.mark.parametrize("quantity", ["0", "-1", "101", "abc", "3.0", ""])
def test_updating_to_a_bad_quantity_shows_the_error_on_that_line(shop_app, browser, quantity):
    emma = make_book(shop_app, "Emma", stock=5)
    dracula = make_book(shop_app, "Dracula", stock=5)
    cart_with(browser, emma)
    page = cart_with(browser, dracula)
    if quantity == "0":  # zero is allowed here: it removes the line
        page = browser.submit(page, "/cart/update", {"quantity": quantity}, match={"product_id": emma})
        assert page.status == 200 and "Emma" not in page.text.split("Your cart", 2)[-1] and "Cart (1" in page.text
        return
    page = browser.submit(page, "/cart/update", {"quantity": quantity}, match={"product_id": emma})
    assert page.status == 400 and "Please correct the quantity marked below." in page.text
    assert f'id="quantity-{emma}-error"' in page.html and f'id="quantity-{dracula}-error"' not in page.html
    field = next(c for c in page.controls if c.get("id") == f"quantity-{emma}")
    assert field["aria-invalid"] == "true" and field["value"] == quantity
    assert "Cart (2" in page.text  # nothing changed


def test_per_book_limit_is_enforced_across_adds(shop_app, browser):
    emma = make_book(shop_app, "Emma", stock=500)
    cart_with(browser, emma, 60)
    page = cart_with(browser, emma, 50)
    assert "At most 100 copies of one book per order (your cart has 60)." in page.text
    assert "Cart (60" in page.text


@pytest.mark.parametrize("product_id", ["999", "0", "-5", "abc", "", "99999999999999999999"])
def test_adding_an_unknown_or_malformed_product_is_a_clear_message(shop_app, browser, product_id):
    emma = make_book(shop_app, "Emma")
    page = browser.get(f"/books/{emma}")
    page = browser.submit(page, "/cart/add", {"product_id": product_id})
    assert page.status == 200 and page.response.request.path == "/books"
    assert "That book is not in our catalogue." in page.text and "Cart (0" in page.text


@pytest.mark.parametrize("action", ["/cart/update", "/cart/remove"])
@pytest.mark.parametrize("product_id", ["999", "abc", "", None])
@pytest.mark.parametrize("quantity", ["0", "3"])
@pytest.mark.sweep
def test_changing_a_line_that_is_not_in_the_cart_is_refused(shop_app, browser, action, product_id, quantity):
    emma = make_book(shop_app, "Emma")
    other = make_book(shop_app, "Dracula")
    page = cart_with(browser, emma, 2)
    data = {"product_id": product_id or other, "quantity": quantity}
    page = browser.submit(page, action, data, match={"product_id": emma})
    assert "That book is not in your cart." in page.text and "Cart (2" in page.text
    assert "Your cart is updated." not in page.text


def test_a_bad_quantity_for_a_book_not_in_the_cart_still_says_why(shop_app, browser):
    emma = make_book(shop_app, "Emma")
    page = cart_with(browser, emma, 2)
    page = browser.submit(page, "/cart/update", {"product_id": "999", "quantity": "abc"}, match={"product_id": emma})
    assert "That book is not in your cart." in page.text and "Cart (2" in page.text


def test_sold_out_books_cannot_be_added(shop_app, browser):
    emma = make_book(shop_app, "Emma", stock=1)
    sold_out = make_book(shop_app, "Villette", stock=0)
    page = browser.get(f"/books/{emma}")
    token = page.form("/cart/add").value("csrf_token")
    response = browser.client.post(
        "/cart/add", data={"csrf_token": token, "product_id": sold_out, "quantity": 1}, follow_redirects=True
    )
    assert "“Villette” is sold out." in response.get_data(as_text=True)
    assert "Cart (0" in browser.get("/cart").text


def test_cart_shows_shortages_and_forgets_books_gone_from_the_catalogue(shop_app, browser):
    emma = make_book(shop_app, "Emma", stock=5)
    dracula = make_book(shop_app, "Dracula", stock=5)
    cart_with(browser, emma, 4)
    cart_with(browser, dracula, 1)
    with shop_app.app_context():
        from blasto.core.extensions import db
        from blasto.models import Product

        db.session.get(Product, emma).stock = 2
        db.session.delete(db.session.get(Product, dracula))
        db.session.commit()
    page = browser.get("/cart")
    assert "Only 2 left" in page.text and "Dracula" not in page.text.split("Your cart", 2)[-1]
    assert "Cart (4" in browser.get("/cart").text


def test_a_tampered_cart_cookie_is_ignored(shop_app, browser):
    emma = make_book(shop_app, "Emma")
    cart_with(browser, emma)
    cookie = browser.session_cookie()
    browser.client.set_cookie("session", cookie[:-3] + "abc")
    page = browser.get("/cart")
    assert page.status == 200 and "Your cart is empty." in page.text


def quantity_field(page, product_id: int) -> dict:
    return next(c for c in page.controls if c.get("id") == f"quantity-{product_id}")


def test_quantities_are_capped_at_the_stock_in_the_page_and_on_the_server(shop_app, browser):
    emma = make_book(shop_app, "Emma", stock=3)
    page = cart_with(browser, emma, 5)
    assert "Only 3 of “Emma” in stock: your cart now holds 3." in page.text and "Cart (3" in page.text
    cart = browser.get("/cart")
    assert quantity_field(cart, emma)["max"] == "3"
    page = browser.submit(cart, "/cart/update", {"quantity": "9"}, match={"product_id": str(emma)})
    assert "Only 3 of “Emma” in stock: your cart now holds 3." in page.text and "Cart (3" in page.text
    page = cart_with(browser, emma, 1)
    assert "Your cart already holds all 3 copies of “Emma” we have." in page.text and "Cart (3" in page.text


def test_a_sold_out_line_is_marked_with_a_remove_button_and_checkout_waits(shop_app, browser):
    emma = make_book(shop_app, "Emma", stock=5)
    dracula = make_book(shop_app, "Dracula", stock=5)
    cart_with(browser, emma, 2)
    cart_with(browser, dracula, 1)
    with shop_app.app_context():
        from blasto.core.extensions import db
        from blasto.models import Product

        db.session.get(Product, emma).stock = 0
        db.session.commit()
    page = browser.get("/cart")
    assert "Sold out: please remove it" in page.text
    assert page.has_form("/cart/remove") and 'href="/checkout"' not in page.html
    assert 'disabled aria-describedby="checkout-blocked"' in page.html
    assert "fix the book marked above: “Emma” (sold out)." in page.text
    token = page.form("/cart/remove", product_id=emma).value("csrf_token")
    refused = browser.client.post(
        "/cart/update", data={"csrf_token": token, "product_id": emma, "quantity": 1}, follow_redirects=True
    )
    assert "“Emma” is sold out; you can only remove it." in refused.get_data(as_text=True)
    page = browser.submit(browser.get("/cart"), "/cart/remove", match={"product_id": str(emma)})
    assert 'href="/checkout"' in page.html and "checkout-blocked" not in page.html and "Cart (1" in page.text


def test_a_short_line_holds_up_checkout_until_lowered(shop_app, browser):
    emma = make_book(shop_app, "Emma", stock=5)
    cart_with(browser, emma, 4)
    with shop_app.app_context():
        from blasto.core.extensions import db
        from blasto.models import Product

        db.session.get(Product, emma).stock = 2
        db.session.commit()
    page = browser.get("/cart")
    assert "Only 2 left: lower the quantity to 2" in page.text and 'href="/checkout"' not in page.html
    page = browser.submit(page, "/cart/update", {"quantity": "2"}, match={"product_id": str(emma)})
    assert "Your cart is updated." in page.text and 'href="/checkout"' in page.html
