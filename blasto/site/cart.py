"""The cart pages. A cart is {product id: quantity}, kept where its shopper is:

in the signed session cookie for a visitor who is not signed in, and in the
database against the account (blasto.shop.account_cart) once signed in, so
it survives log-out and is the same on every device. `current_cart`,
`save_cart` and `empty_cart` are the only doors to it, so no view knows
where it lives; `merge_anonymous_cart` moves the cookie's cart into the
account at log-in. The rules (limits, quantities) are blasto.shop.cart's
pure functions; the cart is shown priced from the database. The cart works
without an account; checkout asks for one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from flask import flash, g, render_template, session, url_for
from flask_login import current_user
from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import Product, User
from blasto.shop import account_cart
from blasto.shop import cart as rules
from blasto.shop.catalog import FOR_SALE, product_for_sale
from blasto.shop.money import line_total, order_total
from blasto.site import bp
from blasto.site.catalog import render_book
from blasto.site.forms import AddToCartForm, RemoveFromCartForm, UpdateCartForm
from blasto.web.redirects import safe_next, see_other

CART_KEY = "cart"


def current_cart() -> dict[int, int]:
    """The shopper's cart: the account's once signed in, else the session's."""
    if not current_user.is_authenticated:
        return rules.from_session(session.get(CART_KEY))
    if CART_KEY in session:  # a cookie cart from before this release, in a session already signed in
        merge_anonymous_cart(current_user)
    g.account_cart_as_read = account_cart.load(current_user.id)
    return dict(g.account_cart_as_read)


def save_cart(cart: dict[int, int]) -> None:
    if current_user.is_authenticated:
        # Only what this request changed is written: another device's change to another line stands.
        account_cart.store(current_user.id, cart, was=g.pop("account_cart_as_read", None))
    elif cart:
        session[CART_KEY] = rules.to_session(cart)
    else:
        session.pop(CART_KEY, None)


def empty_cart() -> None:
    save_cart({})


def merge_anonymous_cart(user: User) -> None:
    """After log-in: the session's cart added to the account's (capped at the stock), and the session's emptied."""
    anonymous = rules.from_session(session.pop(CART_KEY, None))
    if not account_cart.merge(user.id, anonymous):
        flash("Some books from your cart were limited to the copies we have, or were no longer for sale.", "info")


def cart_size() -> int:
    """Copies in the cart, for the nav: no session write, and a query only once signed in."""
    return sum(current_cart().values())


@dataclass(frozen=True)
class Line:
    product_id: int
    title: str
    author: str
    quantity: int
    unit_price_cents: int
    stock: int
    for_sale: bool = True

    @property
    def total_cents(self) -> int:
        return line_total(self.unit_price_cents, self.quantity)

    @property
    def short(self) -> bool:
        return self.quantity > self.stock

    @property
    def most(self) -> int:
        """The largest quantity the shopper may ask for: the stock, within the cart's own limit."""
        return max(1, min(self.stock, rules.MAX_QUANTITY))

    @property
    def problem(self) -> str | None:
        """Why this line cannot be bought as it is (checkout waits until it is fixed), else None."""
        if not self.for_sale:
            return "No longer for sale"
        if self.stock < 1:
            return "Sold out"
        if self.short:
            return f"Only {self.stock:,} left"
        return None


def priced_lines(cart: dict[int, int]) -> list[Line]:
    """The cart's lines at today's prices, by title; books gone from the catalogue (or hidden) drop out."""
    return [line for line in cart_lines(cart) if line.for_sale]


def cart_lines(cart: dict[int, int]) -> list[Line]:
    """Every line whose book still exists, hidden ones included (the cart page marks them for removal)."""
    if not cart:
        return []
    rows = db.session.execute(
        select(
            Product.id, Product.title, Product.author, Product.price_cents, Product.stock, FOR_SALE.label("for_sale")
        )
        .where(Product.id.in_(cart))
        .order_by(Product.title, Product.id)
    )
    return [
        Line(row.id, row.title, row.author, cart[row.id], row.price_cents, row.stock, bool(row.for_sale))
        for row in rows
    ]


def lines_total(lines: list[Line]) -> int:
    return order_total((line.unit_price_cents, line.quantity) for line in lines)


def render_cart(status: int = 200, failed: UpdateCartForm | None = None):
    """The cart page; `failed` is an update form whose errors go next to its line."""
    cart = current_cart()
    lines = cart_lines(cart)
    if len(lines) < len(cart):  # books deleted from the catalogue since they were added
        save_cart({line.product_id: line.quantity for line in lines})
        flash("Some books in your cart are no longer in our catalogue and were removed.", "info")
    failed_id = failed.product_id.data if failed is not None else None
    blocked = [line for line in lines if line.problem]  # hidden, sold out or short: checkout waits for a fix
    buyable = [line for line in lines if line.for_sale]
    return (
        render_template(
            "cart.html",
            lines=lines,
            total_cents=lines_total(buyable),
            failed=failed,
            failed_id=failed_id,
            blocked=blocked,
        ),
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
    cart = current_cart()
    held = cart.get(product.id, 0)
    wanted = cast(int, form.quantity.data)  # validated
    allowed = rules.capped(wanted, product.stock - held)  # never more than the stock in the cart
    if allowed < 1:
        flash(f"Your cart already holds all {product.stock:,} copies of “{product.title}” we have.", "info")
        return see_other(back)
    try:
        save_cart(rules.add(cart, product.id, allowed))
    except rules.CartError as exc:
        flash(str(exc), "error")
        return see_other(back)
    if allowed < wanted:
        flash(f"Only {product.stock:,} of “{product.title}” in stock: your cart now holds {held + allowed}.", "info")
    else:
        copies = "a copy" if allowed == 1 else f"{allowed} copies"
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
    product_id, wanted = cast(int, form.product_id.data), cast(int, form.quantity.data)  # validated
    product = product_for_sale(product_id) if wanted else None
    quantity = wanted
    if wanted and product is None:
        flash("That book is no longer for sale; you can only remove it.", "error")
        return see_other(url_for("site.cart"))
    if product is not None and wanted > product.stock:
        if product.stock < 1:
            flash(f"“{product.title}” is sold out; you can only remove it.", "error")
            return see_other(url_for("site.cart"))
        quantity = product.stock  # capped at the stock, and the shopper told so
    try:
        save_cart(rules.set_quantity(cart, product_id, quantity))
    except rules.CartError as exc:
        flash(str(exc), "error")
        return see_other(url_for("site.cart"))
    if product is not None and quantity < wanted:
        flash(f"Only {product.stock:,} of “{product.title}” in stock: your cart now holds {quantity}.", "info")
    else:
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
