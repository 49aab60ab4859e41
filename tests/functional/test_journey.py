"""The whole path a new shopper takes, through the real forms with their CSRF tokens."""

from blasto.models import Purchase
from tests.support.factories import count, make_book, make_purchase, stock_of, user_id_for


def test_sign_up_browse_fill_cart_check_out_and_see_history(shop_app, browser):
    emma = make_book(shop_app, "Emma", "Jane Austen", price_cents=1199, stock=5)
    dracula = make_book(shop_app, "Dracula", "Bram Stoker", price_cents=999, stock=3)
    moby = make_book(shop_app, "Moby-Dick", "Herman Melville", price_cents=1599, stock=2)

    # Sign up: logged in straight away, name in the header.
    page = browser.get("/signup")
    page = browser.submit(
        page, "/signup", {"name": "Ada Reader", "email": "  Ada@Example.COM ", "password": "a long passphrase"}
    )
    assert page.status == 200 and "Welcome to Blasto, Ada Reader!" in page.text
    assert "Ada Reader" in page.text and page.has_form("/logout")

    # An earlier purchase, so the history has something older than today's.
    user_id = user_id_for(shop_app, "ada@example.com")  # the e-mail was normalised
    assert user_id is not None
    older = make_purchase(shop_app, user_id, {moby: 1}, age_days=3)

    # Browse and search by author.
    page = browser.get("/books?q=austen")
    assert "1 book matches “austen”" in page.text and "Emma" in page.text and "Dracula" not in page.text
    page = browser.submit(page, "/cart/add", match={"product_id": emma})
    assert "Added a copy of “Emma” to your cart." in page.text
    assert page.response.request.path == "/books"  # back where the shopper was

    # The book page's own form, with a quantity.
    page = browser.get(f"/books/{dracula}")
    assert "Dracula" in page.text and "Only 3 left" in page.text
    page = browser.submit(page, "/cart/add", {"quantity": "2"})
    assert "Added 2 copies of “Dracula” to your cart." in page.text
    assert "$11.99" in page.text and "$19.98" in page.text and "$31.97" in page.text  # lines and total
    assert "Cart (3" in page.text

    # Change a quantity, then remove a line.
    page = browser.submit(page, "/cart/update", {"quantity": "3"}, match={"product_id": emma})
    assert "Your cart is updated." in page.text and "$35.97" in page.text and "$55.95" in page.text
    page = browser.submit(page, "/cart/remove", match={"product_id": dracula})
    assert "Removed “Dracula” from your cart." in page.text
    assert "Dracula" not in page.text.split("Your cart", 2)[-1] and "$35.97" in page.text

    # Check out: the review page, then the order.
    page = browser.get("/checkout")
    assert page.status == 200 and "$35.97" in page.text
    page = browser.submit(page, "/checkout")
    assert page.status == 200 and "is placed" in page.text
    purchase_path = page.response.request.path
    assert purchase_path.startswith("/purchases/")
    assert "Emma $11.99 3 $35.97" in page.text and "Total $35.97" in page.text
    assert "Cart (0" in page.text
    assert stock_of(shop_app, emma) == 2 and stock_of(shop_app, dracula) == 3

    # History: the new purchase first, then the older one.
    page = browser.get("/purchases")
    new_id = int(purchase_path.rsplit("/", 1)[1])
    assert page.html.index(f"Order #{new_id}") < page.html.index(f"Order #{older}")
    assert count(shop_app, Purchase) == 2

    # The bill itself: one line, right total.
    page = browser.get(purchase_path)
    assert "Itemised bill" in page.text
    assert page.html.count("<tr") == 5  # header, one line, the books' sum, shipping, total
    assert "Shipping (Standard) Free" in page.text and "Ada Reader" in page.text
