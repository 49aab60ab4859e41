"""The "Tell me when it is back" button on a sold-out book's page, and its cancel.

Both are POST forms with a CSRF token. A signed-out visitor is sent to log in
and comes back to the book's page; the wish itself lives in
blasto.shop.restock_wishes.
"""

from __future__ import annotations

from flask import abort, flash, url_for
from flask_login import current_user

from blasto.models.base import ID_CONVERTER
from blasto.shop.catalog import product_for_sale
from blasto.shop.restock_wishes import WishError, ask, cancel
from blasto.site import bp
from blasto.web.forms import CsrfOnlyForm
from blasto.web.redirects import see_other


@bp.post(f"/books/<{ID_CONVERTER}:product_id>/restock-wish")
def ask_restock_wish(product_id: int):
    page, refused = _checked(product_id)
    if refused is not None:
        return refused
    try:
        ask(current_user.id, product_id)
    except WishError as error:
        flash(str(error), "info")
        return see_other(page)
    flash("We will e-mail you when it is back.", "success")
    return see_other(page)


@bp.post(f"/books/<{ID_CONVERTER}:product_id>/restock-wish/cancel")
def cancel_restock_wish(product_id: int):
    page, refused = _checked(product_id)
    if refused is not None:
        return refused
    if cancel(current_user.id, product_id):
        flash("You will not get an e-mail about this book.", "success")
    return see_other(page)


def _checked(product_id: int):
    """(the book's page, a response when the post goes no further): unknown book, signed out, no CSRF."""
    if product_for_sale(product_id) is None:
        abort(404, description="There is no such book in our catalogue.")
    page = url_for("site.book", product_id=product_id)
    if not current_user.is_authenticated:
        flash("Please log in, and then ask again to hear when this book is back.", "info")
        return page, see_other(url_for("site.login", next=page))
    if not CsrfOnlyForm().validate_on_submit():  # only a missing token fails; CSRFProtect answers 400 first
        return page, see_other(page)
    return page, None
