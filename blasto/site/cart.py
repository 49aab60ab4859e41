"""The cart pages: the cart lives in the session as {product id: quantity}.

The rules (limits, quantities) are blasto.shop.cart's pure functions; this
module only reads and writes the session and shows the cart priced from the
database. The cart works without an account; checkout asks for one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from flask import flash, render_template, session, url_for
from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import Product
from blasto.shop import cart as rules
from blasto.shop.catalog import FOR_SALE, product_for_sale
from blasto.shop.money import line_total, order_total
from blasto.site import bp
from blasto.site.catalog import render_book
from blasto.site.forms import AddToCartForm, RemoveFromCartForm, UpdateCartForm
from blasto.web.redirects import safe_next, see_other

CART_KEY = "cart"


def current_cart() -> dict[int, int]:
    return rules.from_session(session.get(CART_KEY))


def save_cart(cart: dict[int, int]) -> None:
    if cart:
        session[CART_KEY] = rules.to_session(cart)
    else:
        session.pop(CART_KEY, None)


def cart_size() -> int:
    """Copies in the cart, for the nav; no session write, no query."""
    return sum(current_cart().values())


@dataclass(frozen=True)
class Line:
    product_id: int
    title: str
    author: str
    quantity: int
    unit_price_cents: int
    stock: int

    @property
    def total_cents(self) -> int:
        return line_total(self.unit_price_cents, self.quantity)

    @property
    def short(self) -> bool:
        return self.quantity > self.stock


def priced_lines(cart: dict[int, int]) -> list[Line]:
    """The cart's lines at today's prices, by title; books gone from the catalogue (or hidden) drop out."""
    if not cart:
        return []
    rows = db.session.execute(
        select(Product.id, Product.title, Product.author, Product.price_cents, Product.stock)
        .where(Product.id.in_(cart), FOR_SALE)
        .order_by(Product.title, Product.id)
    )
    return [Line(row.id, row.title, row.author, cart[row.id], row.price_cents, row.stock) for row in rows]


def lines_total(lines: list[Line]) -> int:
    return order_total((line.unit_price_cents, line.quantity) for line in lines)


def render_cart(status: int = 200, failed: UpdateCartForm | None = None):
    """The cart page; `failed` is an update form whose errors go next to its line."""
    cart = current_cart()
    lines = priced_lines(cart)
    if len(lines) < len(cart):  # books removed from the catalogue since they were added
        save_cart({line.product_id: line.quantity for line in lines})
        flash("Some books in your cart are no longer for sale and were removed.", "info")
    failed_id = failed.product_id.data if failed is not None else None
    return (
        render_template("cart.html", lines=lines, total_cents=lines_total(lines), failed=failed, failed_id=failed_id),
        status,
    )


@bp.get("/cart")
def cart():
    return render_cart()


@bp.post("/cart/add")
def cart_add():
    form = AddToCartForm()
    valid = form.validate()
    product = None if form.product_id.errors else product_for_sale(cast(int, form.product_id.data))  # validated
    if product is None:
        flash("That book is not in our catalogue.", "error")
        return see_other(url_for("site.catalog"))
    if not valid:  # errors next to the quantity field, on the book's own page
        return render_book(product, form, status=400)
    back = safe_next(form.next.data) or url_for("site.cart")
    if product.stock < 1:
        flash(f"“{product.title}” is sold out.", "error")
        return see_other(back)
    try:
        save_cart(rules.add(current_cart(), product.id, cast(int, form.quantity.data)))  # validated
    except rules.CartError as exc:
        flash(str(exc), "error")
        return see_other(back)
    copies = "a copy" if form.quantity.data == 1 else f"{form.quantity.data} copies"
    flash(f"Added {copies} of “{product.title}” to your cart.", "success")
    return see_other(back)


@bp.post("/cart/update")
def cart_update():
    form = UpdateCartForm()
    valid = form.validate()
    cart = current_cart()
    if form.product_id.errors or form.product_id.data not in cart:
        flash("That book is not in your cart.", "error")
        return see_other(url_for("site.cart"))
    if not valid:  # the error goes next to that line's quantity
        return render_cart(status=400, failed=form)
    try:
        save_cart(rules.set_quantity(cart, cast(int, form.product_id.data), cast(int, form.quantity.data)))  # validated
    except rules.CartError as exc:
        flash(str(exc), "error")
        return see_other(url_for("site.cart"))
    flash("Your cart is updated.", "success")
    return see_other(url_for("site.cart"))


@bp.post("/cart/remove")
def cart_remove():
    form = RemoveFromCartForm()
    cart = current_cart()
    if not form.validate() or form.product_id.data not in cart:
        flash("That book is not in your cart.", "error")
        return see_other(url_for("site.cart"))
    save_cart(rules.remove(cart, form.product_id.data))
    product = db.session.get(Product, form.product_id.data)  # hidden or not, it was in the cart
    flash(f"Removed “{product.title}” from your cart." if product else "Removed the book from your cart.", "success")
    return see_other(url_for("site.cart"))
