"""Checkout and purchase history, for logged-in shoppers.

`place_order` (blasto.shop.checkout) prices the order from the database and
takes the stock in one transaction; these views only turn its outcome into
pages. The checkout form carries an idempotency key made when it is shown, so
a double-submitted form buys once, and a digest of the cart it showed, so
what is bought is what was reviewed.
"""

from __future__ import annotations

import secrets

from flask import abort, flash, render_template, request, session, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import Purchase
from blasto.models.base import ID_CONVERTER
from blasto.models.outbox import ORDER_PLACED
from blasto.models.purchase import PAID, SHOPPER
from blasto.outbox.records import receipt_state
from blasto.shop.catalog import books_for_sale
from blasto.shop.checkout import (
    CheckoutError,
    IdempotencyMismatch,
    InsufficientStock,
    UnknownProducts,
    fingerprint,
    place_order,
)
from blasto.shop.history import purchase_detail, purchase_page
from blasto.shop.orders import CANCEL, NoSuchOrder, NotAllowed, history, move, shopper_may_cancel
from blasto.shop.payments import payment_for
from blasto.site import bp
from blasto.site.cart import CART_KEY, current_cart, lines_total, priced_lines, save_cart
from blasto.site.forms import CheckoutForm
from blasto.web.forms import CsrfOnlyForm
from blasto.web.paging import Page, check_in_range, page_number
from blasto.web.redirects import see_other

PURCHASES_PER_PAGE = 10


@bp.route("/checkout", methods=["GET", "POST"])
@login_required
def checkout():
    if request.method == "POST":
        return place_checkout(CheckoutForm())
    cart = current_cart()
    lines = priced_lines(cart)
    if not lines:
        flash("Your cart is empty.", "info")
        return see_other(url_for("site.cart"))
    if len(lines) < len(cart):
        cart = {line.product_id: line.quantity for line in lines}
        save_cart(cart)
    form = CheckoutForm(formdata=None, idempotency_key=secrets.token_urlsafe(16), cart_digest=fingerprint(cart))
    return render_template("checkout.html", form=form, lines=lines, total_cents=lines_total(lines))


def place_checkout(form: CheckoutForm):
    if not form.validate():
        flash("The checkout form was incomplete; please review your order again.", "error")
        return see_other(url_for("site.checkout"))
    key = form.idempotency_key.data
    cart = current_cart()
    if not cart:
        # The same form posted again after the first post emptied the cart.
        earlier = db.session.scalar(
            select(Purchase.id).where(Purchase.user_id == current_user.id, Purchase.idempotency_key == key)
        )
        if earlier is not None:
            flash("This order was already placed.", "info")
            return see_other(url_for("site.purchase", purchase_id=earlier))
        flash("Your cart is empty.", "info")
        return see_other(url_for("site.cart"))
    if fingerprint(cart) != form.cart_digest.data:
        flash("Your cart changed since you reviewed it; please check the order again.", "error")
        return see_other(url_for("site.checkout"))
    try:
        purchase, created = place_order(current_user.id, cart, idempotency_key=key)
    except InsufficientStock as exc:
        flash(str(exc), "error")  # the cart stays as it was, so the shopper can adjust it
        return see_other(url_for("site.cart"))
    except UnknownProducts as exc:
        save_cart({pid: qty for pid, qty in cart.items() if pid not in exc.product_ids})
        flash("Some books in your cart are no longer sold and were removed; please review your order.", "error")
        return see_other(url_for("site.cart"))
    except IdempotencyMismatch:
        flash("Your cart changed since you reviewed it; please check the order again.", "error")
        return see_other(url_for("site.checkout"))
    except CheckoutError as exc:
        flash(str(exc), "error")
        return see_other(url_for("site.cart"))
    session.pop(CART_KEY, None)
    if created:
        flash(f"Thank you! Order #{purchase.id} is placed; it waits for your payment.", "success")
    else:
        flash("This order was already placed.", "info")
    return see_other(url_for("site.purchase", purchase_id=purchase.id))


@bp.get("/purchases")
@login_required
def purchases():
    number = page_number()
    items, total = purchase_page(current_user.id, number, PURCHASES_PER_PAGE)
    check_in_range(number, total, PURCHASES_PER_PAGE)
    return render_template(
        "purchases.html", page=Page(items=items, number=number, per_page=PURCHASES_PER_PAGE, total=total)
    )


@bp.get(f"/purchases/<{ID_CONVERTER}:purchase_id>")
@login_required
def purchase(purchase_id: int):
    found = purchase_detail(current_user.id, purchase_id)
    if found is None:  # someone else's purchase is no more visible than a missing one
        abort(404, description="There is no such purchase in your history.")
    on_sale = books_for_sale(item["product_id"] for item in found["items"])
    return render_template(
        "purchase.html",
        purchase=found,
        payment=payment_for(found),
        history=history(purchase_id),
        placed_email=receipt_state(purchase_id, ORDER_PLACED),
        receipt=receipt_state(purchase_id),
        cancel_form=CsrfOnlyForm() if shopper_may_cancel(found) else None,
        on_sale=on_sale,
    )


@bp.post(f"/purchases/<{ID_CONVERTER}:purchase_id>/cancel")
@login_required
def cancel_purchase(purchase_id: int):
    """The shopper cancels an order that has not shipped: unpaid, it is cancelled; paid, it is refunded."""
    form = CsrfOnlyForm()
    if not form.validate_on_submit():  # only a missing CSRF token can fail; Flask-WTF answers 400 first
        abort(400)
    try:
        moved = move(purchase_id, CANCEL, SHOPPER, actor_id=current_user.id, owner_id=current_user.id)
    except NoSuchOrder:
        abort(404, description="There is no such purchase in your history.")
    except NotAllowed as exc:
        flash(str(exc), "error")
        return see_other(url_for("site.purchase", purchase_id=purchase_id))
    if moved.from_status == PAID:
        flash(f"Order #{purchase_id} is cancelled; your payment will be refunded the way you paid.", "success")
    else:
        flash(f"Order #{purchase_id} is cancelled.", "success")
    return see_other(url_for("site.purchase", purchase_id=purchase_id))
