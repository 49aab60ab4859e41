"""Filling and reading carts through the pages, and reading the account carts' table."""

from __future__ import annotations

from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import CartLine
from tests.support.form_browser import Browser, Page


def add_to_cart(browser: Browser, book_id: int, quantity: int = 1) -> Page:
    """The book page's "Add to cart" form, as a shopper fills it."""
    return browser.submit(browser.get(f"/books/{book_id}"), "/cart/add", {"quantity": str(quantity)})


def log_out(browser: Browser) -> Page:
    """The layout's log-out button."""
    return browser.submit(browser.get("/cart"), "/logout")


def cart_on_page(page: Page) -> dict[int, int]:
    """{book id: quantity} as the cart page shows it (the quantity field, or the plain number of a line it blocks)."""
    fields = {
        int(control["id"].removeprefix("quantity-")): int(control["value"])
        for control in page.controls
        if control.get("id", "").startswith("quantity-") and control.get("name") == "quantity"
    }
    removable = {int(form.value("product_id") or 0) for form in page.forms if form.action.endswith("/cart/remove")}
    assert set(fields) <= removable, "every quantity field has its line's remove button"
    return fields


def stored_cart(app, user_id: int) -> dict[int, int]:
    """The account's cart as the database holds it."""
    with app.app_context():
        rows = db.session.execute(select(CartLine.product_id, CartLine.quantity).where(CartLine.user_id == user_id))
        return {row.product_id: row.quantity for row in rows}
