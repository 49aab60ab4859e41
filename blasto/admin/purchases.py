"""Every shopper's purchases for admins: a filtered, paginated list and one purchase.

A page is one statement: the page of purchases (filtered, newest first, a
backward scan of `ix_purchases_created_at_id` that stops after one page)
joined to the customer, with each row's copies, lines and receipt state as
correlated subqueries over that page only, and the filtered total as an
uncorrelated subquery Postgres evaluates once. The book filter is a
semi-join through `ix_purchase_items_product_id`. No ORM objects, no N+1.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from flask import abort, flash, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import ColumnElement, Select, false, func, or_, select

from blasto.admin import bp
from blasto.admin.forms import STATE_FILTERS, OrderMoveForm, PurchaseFilterForm, ShipForm
from blasto.core.extensions import db
from blasto.models import OutboxMessage, Product, Purchase, PurchaseItem, User
from blasto.models.base import ID_CONVERTER, MAX_ID
from blasto.models.outbox import RECEIPT
from blasto.models.purchase import ADMIN, AWAITING_PAYMENT, PAID
from blasto.reports.dashboard import paid_between
from blasto.shop.card_refunds import refund_of
from blasto.shop.catalog import escape_like
from blasto.shop.history import SHIPPING_COLUMNS, shipping_of
from blasto.shop.orders import CANCEL, PAY, SHIP, BadShipment, NoSuchOrder, NotAllowed, history, move
from blasto.shop.payments import payment_for
from blasto.web.paging import Page, check_in_range, page_number
from blasto.web.redirects import see_other

PER_PAGE = 25

_purchases, _lines, _products, _users, _outbox = (
    Purchase.__table__,
    PurchaseItem.__table__,
    Product.__table__,
    User.__table__,
    OutboxMessage.__table__,
)
EARLIEST, LATEST = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)  # an open end of a day filter
_BOOK_ID = re.compile(r"(#?)([0-9]{1,10})")


@bp.get("/purchases")
def purchases():
    number = page_number()
    form = PurchaseFilterForm(request.args)
    if not form.validate():
        return render_template("admin/purchases.html", form=form, page=None, args=form.query_args()), 400
    rows, total = purchase_page(filters(form), number, PER_PAGE)
    check_in_range(number, total, PER_PAGE)
    page = Page(items=rows, number=number, per_page=PER_PAGE, total=total)
    return render_template("admin/purchases.html", form=form, page=page, args=form.query_args())


@bp.get(f"/purchases/<{ID_CONVERTER}:purchase_id>")
def purchase(purchase_id: int):
    return _purchase_page(purchase_id)


def _purchase_page(purchase_id: int, ship_form: ShipForm | None = None, status: int = 200):
    found = purchase_detail(purchase_id)
    if found is None:
        abort(404, description="There is no purchase with this id.")
    receipt = db.session.execute(
        select(
            OutboxMessage.state,
            OutboxMessage.recipient,
            OutboxMessage.sent_at,
            OutboxMessage.attempts,
            OutboxMessage.last_error,
        ).where(OutboxMessage.key == f"receipt:{purchase_id}")
    ).first()
    return render_template(
        "admin/purchase.html",
        purchase=found,
        receipt=receipt,
        payment=payment_for(found),
        history=history(purchase_id),
        pay_form=OrderMoveForm(formdata=None) if found["status"] == AWAITING_PAYMENT else None,
        ship_form=(ship_form or ShipForm(formdata=None)) if found["status"] == PAID else None,
        cancel_form=OrderMoveForm(formdata=None) if found["status"] in (AWAITING_PAYMENT, PAID) else None,
    ), status


@bp.post(f"/purchases/<{ID_CONVERTER}:purchase_id>/pay")
def mark_paid(purchase_id: int):
    """The money came in outside the shop (manual payment): the order is paid, the receipt owed."""
    form = OrderMoveForm()
    if not form.validate_on_submit():
        flash(_first_error(form), "error")
        return see_other(url_for("admin.purchase", purchase_id=purchase_id))
    return _move(purchase_id, PAY, f"Order #{purchase_id} is marked paid; the receipt is on its way.")


@bp.post(f"/purchases/<{ID_CONVERTER}:purchase_id>/ship")
def mark_shipped(purchase_id: int):
    form = ShipForm()
    if not form.validate_on_submit():
        return _purchase_page(purchase_id, ship_form=form, status=400)
    return _move(
        purchase_id,
        SHIP,
        f"Order #{purchase_id} is marked shipped; the shopper is told.",
        carrier=form.carrier.data,
        tracking_number=form.tracking_number.data,
    )


@bp.post(f"/purchases/<{ID_CONVERTER}:purchase_id>/cancel")
def cancel(purchase_id: int):
    """Unpaid: cancelled. Paid: refunded, the money returned outside the shop as it came (manual payment)."""
    form = OrderMoveForm()
    if not form.validate_on_submit():
        flash(_first_error(form), "error")
        return see_other(url_for("admin.purchase", purchase_id=purchase_id))
    return _move(purchase_id, CANCEL, None)


def _move(purchase_id: int, name: str, done: str | None, **details):
    try:
        moved = move(purchase_id, name, ADMIN, actor_id=current_user.id, **details)
    except NoSuchOrder:
        abort(404, description="There is no purchase with this id.")
    except (NotAllowed, BadShipment) as exc:
        flash(str(exc), "error")
        return see_other(url_for("admin.purchase", purchase_id=purchase_id))
    if done is None:
        if moved.from_status != PAID:
            done = f"Order #{purchase_id} is cancelled; its books are back in stock."
        elif refund_of(purchase_id) is not None:  # a card order: the worker sends the money back through Stripe
            done = f"Order #{purchase_id} is refunded: the card payment goes back through Stripe; the shopper is told."
        else:
            done = f"Order #{purchase_id} is refunded: return the payment the way it came; the shopper is told."
    flash(done, "success")
    return see_other(url_for("admin.purchase", purchase_id=purchase_id))


def _first_error(form) -> str:
    return next((error for errors in form.errors.values() for error in errors), "The form was incomplete.")


def filters(form: PurchaseFilterForm) -> list[ColumnElement]:
    """WHERE conditions on `purchases` for a validated filter form."""
    conditions: list[ColumnElement] = []
    if form.state.data:
        conditions.append(_purchases.c.status == STATE_FILTERS[form.state.data][1])
    if form.date_from.data:
        conditions.append(_purchases.c.created_at >= _start_of(form.date_from.data))
    if form.date_to.data and form.date_to.data < date.max:  # inclusive: before the next day starts
        conditions.append(_purchases.c.created_at < _start_of(form.date_to.data + timedelta(days=1)))
    if form.paid_from.data or form.paid_to.data:
        start = _start_of(form.paid_from.data) if form.paid_from.data else EARLIEST
        end = (
            _start_of(form.paid_to.data + timedelta(days=1))
            if form.paid_to.data and form.paid_to.data < date.max
            else LATEST
        )
        conditions.append(_purchases.c.id.in_(paid_between(start, end)))
    if form.email.data:
        pattern = f"%{escape_like(form.email.data.lower())}%"
        conditions.append(
            _purchases.c.user_id.in_(select(_users.c.id).where(func.lower(_users.c.email).like(pattern, escape="\\")))
        )
    if form.book.data:
        conditions.append(
            _purchases.c.id.in_(
                select(_lines.c.purchase_id).where(_lines.c.product_id.in_(_books_matching(form.book.data)))
            )
        )
    if form.min_total.data is not None:
        conditions.append(_purchases.c.total_cents >= form.min_total.data)
    if form.max_total.data is not None:
        conditions.append(_purchases.c.total_cents <= form.max_total.data)
    return conditions


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _books_matching(text: str) -> Select:
    """Ids of books whose title contains `text`; "12" also matches book 12, "#12" only book 12."""
    matches: list[ColumnElement] = []
    as_id = _BOOK_ID.fullmatch(text)
    if as_id and int(as_id[2]) <= MAX_ID:
        matches.append(_products.c.id == int(as_id[2]))
    if not (as_id and as_id[1]):
        matches.append(func.lower(_products.c.title).like(f"%{escape_like(text.lower())}%", escape="\\"))
    return select(_products.c.id).where(or_(*matches) if matches else false())


def purchase_page(conditions: list[ColumnElement], page: int, per_page: int) -> tuple[list, int]:
    """One page of matching purchases, newest first, and how many match in all."""
    header = (
        select(
            _purchases.c.id,
            _purchases.c.created_at,
            _purchases.c.total_cents,
            _purchases.c.status,
            _purchases.c.user_id,
            _purchases.c.shipping_option,
            _purchases.c.ship_city,
            _purchases.c.ship_country,
        )
        .where(*conditions)
        .order_by(_purchases.c.created_at.desc(), _purchases.c.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
        .subquery("page")
    )
    per_row = _lines.c.purchase_id == header.c.id
    count = select(func.count()).select_from(_purchases).where(*conditions)
    statement = (
        select(
            header.c.id,
            header.c.created_at,
            header.c.total_cents,
            header.c.status,
            _users.c.email,
            header.c.shipping_option,
            header.c.ship_city,
            header.c.ship_country,
            select(func.coalesce(func.sum(_lines.c.quantity), 0)).where(per_row).scalar_subquery().label("copies"),
            select(func.count()).select_from(_lines).where(per_row).scalar_subquery().label("lines"),
            select(_outbox.c.state)
            .where(_outbox.c.purchase_id == header.c.id, _outbox.c.kind == RECEIPT)
            .limit(1)
            .scalar_subquery()
            .label("receipt"),
            count.scalar_subquery().label("total_items"),
        )
        .select_from(header.join(_users, _users.c.id == header.c.user_id))
        .order_by(header.c.created_at.desc(), header.c.id.desc())
    )
    rows = db.session.execute(statement).all()
    if rows:
        return list(rows), rows[0].total_items
    # Past the last page (or nothing matches): no row carried the count.
    return [], db.session.execute(count).scalar_one() if page > 1 else 0


def purchase_detail(purchase_id: int) -> dict | None:
    """One purchase with its customer and lines (titles of hidden books included)."""
    rows = db.session.execute(
        select(
            _purchases.c.id,
            _purchases.c.created_at,
            _purchases.c.total_cents,
            _purchases.c.status,
            _purchases.c.payment_method,
            _purchases.c.carrier,
            _purchases.c.tracking_number,
            *(_purchases.c[name] for name in SHIPPING_COLUMNS),
            _users.c.id.label("user_id"),
            _users.c.email,
            _users.c.name,
            _lines.c.product_id,
            _products.c.title,
            _products.c.author,
            _products.c.hidden,
            _lines.c.quantity,
            _lines.c.unit_price_cents,
        )
        .select_from(
            _purchases.join(_users, _users.c.id == _purchases.c.user_id)
            .join(_lines, _lines.c.purchase_id == _purchases.c.id)
            .join(_products, _products.c.id == _lines.c.product_id)
        )
        .where(_purchases.c.id == purchase_id)
        .order_by(_lines.c.id)
    ).all()
    if not rows:
        return None
    first = rows[0]
    return {
        "id": first.id,
        "created_at": first.created_at,
        "total_cents": first.total_cents,
        "status": first.status,
        "payment_method": first.payment_method,
        "carrier": first.carrier,
        "tracking_number": first.tracking_number,
        "customer": {"id": first.user_id, "email": first.email, "name": first.name},
        **shipping_of(first._mapping),
        "items": [
            {
                "product_id": row.product_id,
                "title": row.title,
                "author": row.author,
                "hidden": row.hidden,
                "quantity": row.quantity,
                "unit_price_cents": row.unit_price_cents,
                "line_total_cents": row.unit_price_cents * row.quantity,
            }
            for row in rows
        ],
    }
