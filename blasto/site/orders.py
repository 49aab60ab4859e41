"""Checkout and purchase history, for logged-in shoppers.

`place_order` (blasto.shop.checkout) prices the order from the database and
takes the stock in one transaction; these views only turn its outcome into
pages. The checkout form carries an idempotency key made when it is shown, so
a double-submitted form buys once, and a digest of the cart it showed, so
what is bought is what was reviewed. The shipping address is a saved one or
a new one (kept for next time); a bad one shows the form again with what the
shopper typed and what is wrong with each field.
"""

from __future__ import annotations

import secrets

from flask import abort, current_app, flash, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import Purchase
from blasto.models.base import ID_CONVERTER, MAX_ID
from blasto.models.outbox import ORDER_PLACED
from blasto.models.purchase import AWAITING_PAYMENT, PAID, SHOPPER, STRIPE
from blasto.outbox.records import receipt_state
from blasto.shop import card_checkout
from blasto.shop.catalog import books_for_sale
from blasto.shop.checkout import (
    CheckoutError,
    IdempotencyMismatch,
    InsufficientStock,
    Shipping,
    UnknownProducts,
    fingerprint,
    place_order,
)
from blasto.shop.history import purchase_detail, purchase_page
from blasto.shop.orders import CANCEL, NoSuchOrder, NotAllowed, history, move, shopper_may_cancel
from blasto.shop.payments import payment_for
from blasto.shop.shipping import (
    ADDRESS_FIELDS,
    AddressError,
    UnknownShippingOption,
    check_address,
    countries,
    default_option,
    option_named,
    quotes,
    saved_address,
    saved_addresses,
)
from blasto.site import bp
from blasto.site.cart import current_cart, empty_cart, lines_total, priced_lines, save_cart
from blasto.site.forms import NEW_ADDRESS, CardPaymentForm, CheckoutForm
from blasto.web.errors import RETRY_AFTER_SECONDS
from blasto.web.expired_forms import restore_typed
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
    restored = restore_typed(form)  # the address typed before the session expired
    return review(form, lines, fresh=not restored)


def review(form: CheckoutForm, lines: list, fresh: bool = False, status: int = 200):
    """The checkout page: the bill, where to ship (a saved address or a new one) and how."""
    saved = saved_addresses(current_user.id)
    form.address.choices = [(str(row.id), _one_line(row)) for row in saved] + [(NEW_ADDRESS, "A new address")]
    form.country.choices = [("", "Choose a country")] + countries()
    lines_cents = lines_total(lines)
    offers = quotes(lines_cents)
    form.shipping_option.choices = [(offer["name"], offer["label"]) for offer in offers]
    if fresh:
        form.address.data = str(saved[0].id) if saved else NEW_ADDRESS
        form.shipping_option.data = default_option().name
    return (
        render_template("checkout.html", form=form, lines=lines, total_cents=lines_cents, quotes=offers, saved=saved),
        status,
    )


def _one_line(row) -> str:
    parts = [row.name, row.line1, row.line2, f"{row.postal_code} {row.city}", row.country]
    return ", ".join(part for part in parts if part)


def _shipping(form: CheckoutForm) -> Shipping:
    """The address and option the form names; AddressError (per field) or UnknownShippingOption otherwise."""
    option = option_named(form.shipping_option.data)
    if form.address.data != NEW_ADDRESS:
        chosen = form.address.data or ""
        known = chosen.isascii() and chosen.isdigit() and len(chosen) <= 12 and int(chosen) <= MAX_ID
        address = saved_address(current_user.id, int(chosen)) if known else None
        if address is None:
            raise AddressError({"address": "That saved address is gone; choose another or enter a new one."})
        return Shipping(address, option)
    return Shipping(check_address({name: getattr(form, name).data for name in ADDRESS_FIELDS}), option)


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
        shipping = _shipping(form)
    except (AddressError, UnknownShippingOption) as exc:
        for name, message in (exc.errors if isinstance(exc, AddressError) else {"shipping_option": str(exc)}).items():
            getattr(form, name).errors = [message]
        return review(form, priced_lines(cart), status=400)
    try:
        purchase, created = place_order(current_user.id, cart, shipping, idempotency_key=key)
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
    empty_cart()
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
    return purchase_page_for(purchase_id)


def purchase_page_for(
    purchase_id: int, card_error: str | None = None, client_secret: str | None = None, status: int = 200
):
    """The order page; a card order awaiting payment gets the card form (with `card_error` after a refusal),
    or with `client_secret` the 3-D Secure step."""
    found = purchase_detail(current_user.id, purchase_id)
    if found is None:  # someone else's purchase is no more visible than a missing one
        abort(404, description="There is no such purchase in your history.")
    on_sale = books_for_sale(item["product_id"] for item in found["items"])
    card = None
    if found["payment_method"] == STRIPE and found["status"] == AWAITING_PAYMENT:
        settings = current_app.config["PAYMENTS"].stripe
        if settings is not None:
            card = {
                "js_url": settings.js_url,
                "publishable_key": settings.publishable_key,
                "form": CardPaymentForm(formdata=None),
                "error": card_error,
                "client_secret": client_secret,
            }
    page = render_template(
        "purchase.html",
        purchase=found,
        payment=payment_for(found),
        card=card,
        history=history(purchase_id),
        placed_email=receipt_state(purchase_id, ORDER_PLACED),
        receipt=receipt_state(purchase_id),
        cancel_form=CsrfOnlyForm() if shopper_may_cancel(found) else None,
        on_sale=on_sale,
    )
    return page, status


@bp.post(f"/purchases/<{ID_CONVERTER}:purchase_id>/pay")
@login_required
def pay(purchase_id: int):
    """Charge the card Stripe.js tokenised in the page (its id only) for the shopper's own order."""
    form = CardPaymentForm()
    if not form.validate_on_submit():  # only a missing CSRF token can fail; Flask-WTF answers 400 first
        abort(400)
    return _card_outcome(purchase_id, lambda: card_checkout.pay(purchase_id, current_user.id, form.card_id.data))


@bp.post(f"/purchases/<{ID_CONVERTER}:purchase_id>/pay/check")
@login_required
def check_payment(purchase_id: int):
    """After Stripe.js's 3-D Secure step in the page: what Stripe says now decides."""
    form = CsrfOnlyForm()
    if not form.validate_on_submit():
        abort(400)
    return _card_outcome(purchase_id, lambda: card_checkout.confirm_after_action(purchase_id, current_user.id))


def _card_outcome(purchase_id: int, attempt):
    here = url_for("site.purchase", purchase_id=purchase_id)
    try:
        outcome = attempt()
    except NoSuchOrder:
        abort(404, description="There is no such purchase in your history.")
    except card_checkout.NotPayable as exc:
        flash(str(exc), "info" if exc.status == PAID else "error")
        return see_other(here)
    except card_checkout.BadCard as exc:
        return purchase_page_for(purchase_id, card_error=str(exc), status=422)
    except card_checkout.PaymentUnavailable as exc:
        page, status = purchase_page_for(purchase_id, card_error=str(exc), status=503)
        return page, status, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if outcome.kind == card_checkout.PAID_NOW:
        flash(f"Thank you! Order #{purchase_id} is paid.", "success")
        return see_other(here)
    if outcome.kind == card_checkout.NEEDS_ACTION:
        return purchase_page_for(purchase_id, client_secret=outcome.client_secret)
    if outcome.kind in (card_checkout.PENDING, card_checkout.REFUNDED_LATE):
        flash(outcome.message, "info" if outcome.kind == card_checkout.PENDING else "error")
        return see_other(here)
    return purchase_page_for(purchase_id, card_error=outcome.message, status=422)


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
