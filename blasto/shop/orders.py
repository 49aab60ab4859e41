"""The life of an order: every change of a purchase's state happens here, and only here.

Each move is one `UPDATE purchases SET status = ... WHERE id = ... AND status
IN (...)`: of two moves racing on one order (a payment and the expiry, a
refund and a shipment) the database lets exactly one match, and the other
finds the state already changed and is refused. The winner's history row,
the stock it puts back (or takes again), the e-mail it owes and the card
refund it owes commit in the same transaction, or none of them does.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, or_, select, update

from blasto.core.extensions import db
from blasto.core.logs import request_id_var
from blasto.models import Product, Purchase, PurchaseEvent, PurchaseItem, User
from blasto.models.base import utcnow
from blasto.models.purchase import (
    ADMIN,
    AWAITING_PAYMENT,
    CANCELLED,
    CARRIER_MAX,
    MANUAL,
    NOTE_MAX,
    PAID,
    PROVIDER,
    REFUNDED,
    SHIPPED,
    SHOPPER,
    SOLD,
    STRIPE,
    TIMEOUT,
    TRACKING_MAX,
)
from blasto.outbox.records import owe_order_email
from blasto.shop import card_refunds, sales_counts
from blasto.shop.restock_wishes import announce_restock

PAY, SHIP, CANCEL, EXPIRE = "pay", "ship", "cancel", "expire"
# A card payment that lands on a cancelled order: paid after all if its books can be taken
# again, else refunded; and a refund made at Stripe, not by the shop (its dashboard).
LATE_PAY, LATE_REFUND, REFUNDED_AT_PROVIDER = "late_pay", "late_refund", "refunded_at_provider"
# The allowed moves: for each, the state it leaves -> the state it reaches. A move is one
# UPDATE, so a state may appear once on each side (cancelling a paid order refunds it).
MOVES: dict[str, dict[str, str]] = {
    PAY: {AWAITING_PAYMENT: PAID},
    SHIP: {PAID: SHIPPED},
    CANCEL: {AWAITING_PAYMENT: CANCELLED, PAID: REFUNDED},
    EXPIRE: {AWAITING_PAYMENT: CANCELLED},
    LATE_PAY: {CANCELLED: PAID},
    LATE_REFUND: {CANCELLED: REFUNDED},
    REFUNDED_AT_PROVIDER: {PAID: REFUNDED},
}
# Who may ask for each move.
CAUSES_ALLOWED: dict[str, tuple[str, ...]] = {
    PAY: (ADMIN, PROVIDER),
    SHIP: (ADMIN,),
    CANCEL: (SHOPPER, ADMIN, PROVIDER),
    EXPIRE: (TIMEOUT,),
    LATE_PAY: (PROVIDER,),
    LATE_REFUND: (PROVIDER,),
    REFUNDED_AT_PROVIDER: (PROVIDER,),
}
# States whose books are on the shelf, not held by the order: it will never ship. Entering
# one from a state that held them puts them back; moving between two of them puts back nothing.
RESTOCKS = (CANCELLED, REFUNDED)
# Moves whose arrival in `refunded` owes a card order's money back through Stripe (a refund
# the provider made itself owes nothing: the money has gone back already).
SENDS_CARD_MONEY_BACK = (CANCEL, LATE_REFUND)
EXPIRY_BATCH = 200
# Postgres refuses NUL in text, and no control character belongs in what a person types.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_TRACKING = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./-]*")

assert all(len(set(targets.values())) == len(targets) for targets in MOVES.values()), "a move must be reversible"


class OrderError(Exception):
    """A move that cannot be made; the message is fit for whoever asked."""


class NoSuchOrder(OrderError):
    def __init__(self, purchase_id: int):
        self.purchase_id = purchase_id
        super().__init__(f"There is no order #{purchase_id}.")


class NotAllowed(OrderError):
    """The order's state does not allow the move (it may have just changed: a race lost)."""

    def __init__(self, purchase_id: int, move: str, status: str):
        self.purchase_id, self.move, self.status = purchase_id, move, status
        super().__init__(f"Order #{purchase_id} is {status.replace('_', ' ')}: it cannot be {_PAST[move]} now.")


class PaidByHand(NotAllowed):
    """A shopper's cancel of an order paid by hand: only the shop can send the money back."""

    def __init__(self, purchase_id: int):
        super().__init__(purchase_id, CANCEL, PAID)
        self.args = (
            f"Order #{purchase_id} is paid, so the shop cancels it and sends your money back the way you paid: "
            "write to the shop (reply to your receipt) to cancel it.",
        )

    def __str__(self) -> str:
        return self.args[0]


class BadShipment(OrderError):
    """Carrier or tracking number missing or malformed."""


class OutOfStock(OrderError):
    """A late payment's books cannot all be taken again: the move wrote nothing."""

    def __init__(self, purchase_id: int):
        self.purchase_id = purchase_id
        super().__init__(f"Order #{purchase_id}: its books are no longer all in stock.")


# Where the money goes, by payment method and state reached: in manual mode outside the
# shop, by card through Stripe (the worker sends it); the history says so.
_MONEY_NOTES = {
    (MANUAL, PAID): "payment received outside the shop (manual payment)",
    (MANUAL, REFUNDED): "refunded outside the shop, the way it was paid (manual payment)",
    (STRIPE, REFUNDED): "the card payment goes back through Stripe",
}
_PAST = {
    PAY: "marked paid",
    SHIP: "shipped",
    CANCEL: "cancelled",
    EXPIRE: "expired",
    LATE_PAY: "paid late",
    LATE_REFUND: "refunded",
    REFUNDED_AT_PROVIDER: "refunded",
}


@dataclass(frozen=True)
class Moved:
    purchase_id: int
    from_status: str
    to_status: str


def record_creation(purchase_id: int, user_id: int) -> None:
    """The first history row of a new order (from no state), in the checkout's transaction."""
    _history(purchase_id, None, AWAITING_PAYMENT, SHOPPER, user_id, None)


def move(
    purchase_id: int,
    name: str,
    cause: str,
    *,
    actor_id: int | None = None,
    owner_id: int | None = None,
    note: str | None = None,
    carrier: str | None = None,
    tracking_number: str | None = None,
) -> Moved:
    """Make the move `name` on the order and commit it with its history, stock and e-mail.

    `owner_id` limits the move to that shopper's own orders (anyone else's is
    NoSuchOrder, like a missing one). Raises NotAllowed when the state does
    not allow it, and writes nothing then; LATE_PAY raises OutOfStock, and
    writes nothing, when the order's books cannot all be taken again.
    """
    if cause not in CAUSES_ALLOWED[name]:
        raise ValueError(f"{cause} cannot {name} an order")
    targets = MOVES[name]
    values: dict = {"status": case(targets, value=Purchase.status)}
    if name == SHIP:
        values.update(_shipment(carrier, tracking_number))
    note = _clean_note(note)
    condition = [Purchase.id == purchase_id, Purchase.status.in_(targets)]
    if owner_id is not None:
        condition.append(Purchase.user_id == owner_id)
    if cause == SHOPPER:  # money paid by hand goes back by hand: the shop cancels those, not the shopper
        condition.append(or_(Purchase.status != PAID, Purchase.payment_method != MANUAL))
    try:
        row = db.session.execute(
            update(Purchase)
            .where(*condition)
            .values(**values)
            .returning(
                Purchase.status,
                Purchase.user_id,
                Purchase.payment_method,
                Purchase.payment_intent_id,
                Purchase.total_cents,
            )
            .execution_options(synchronize_session=False)
        ).first()
        if row is None:
            db.session.rollback()
            raise _refusal(purchase_id, name, owner_id, cause)
        to_status = row.status
        from_status = next(source for source, target in targets.items() if target == to_status)
        _history(
            purchase_id,
            from_status,
            to_status,
            cause,
            actor_id,
            note or _MONEY_NOTES.get((row.payment_method, to_status)),
        )
        if (to_status in SOLD) != (from_status in SOLD):
            sales_counts.count_order(purchase_id, 1 if to_status in SOLD else -1)
        if to_status in RESTOCKS and from_status not in RESTOCKS:
            _restock(purchase_id)
        if name == LATE_PAY and not _reserve_again(purchase_id):
            raise OutOfStock(purchase_id)
        owes_refund = (
            name in SENDS_CARD_MONEY_BACK
            and to_status == REFUNDED
            and row.payment_method == STRIPE
            and row.payment_intent_id is not None
            and row.total_cents > 0
        )
        if owes_refund:
            card_refunds.owe(purchase_id, row.payment_intent_id, row.total_cents, note or _PAST[name])
        owe_order_email(to_status, purchase_id, row.user_id)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    if owes_refund:
        card_refunds.queue(purchase_id)
    return Moved(purchase_id, from_status, to_status)


def add_note(purchase_id: int, cause: str, note: str) -> bool:
    """Record a fact about the order in its history without a move (a partial refund made at Stripe).

    Once per note: the same fact told twice (a repeated event) is recorded once.
    Returns whether it was recorded.
    """
    note = _clean_note(note) or ""
    try:
        status = db.session.scalar(select(Purchase.status).where(Purchase.id == purchase_id).with_for_update())
        if status is None:
            raise NoSuchOrder(purchase_id)
        told = db.session.scalar(
            select(PurchaseEvent.id).where(PurchaseEvent.purchase_id == purchase_id, PurchaseEvent.note == note)
        )
        if told is not None:
            db.session.rollback()
            return False
        _history(purchase_id, status, status, cause, None, note)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return True


def _refusal(purchase_id: int, name: str, owner_id: int | None, cause: str) -> OrderError:
    query = select(Purchase.status).where(Purchase.id == purchase_id)
    if owner_id is not None:
        query = query.where(Purchase.user_id == owner_id)
    status = db.session.scalar(query)
    db.session.rollback()
    if status is None:
        return NoSuchOrder(purchase_id)
    if name == CANCEL and cause == SHOPPER and status == PAID:
        return PaidByHand(purchase_id)
    return NotAllowed(purchase_id, name, status)


def _history(
    purchase_id: int, from_status: str | None, to_status: str, cause: str, user_id: int | None, note: str | None
) -> None:
    db.session.add(
        PurchaseEvent(
            purchase_id=purchase_id,
            from_status=from_status,
            to_status=to_status,
            cause=cause,
            user_id=user_id,
            request_id=request_id_var.get(),
            note=note,
        )
    )


def _restock(purchase_id: int) -> None:
    """Put the order's copies back; rows in product-id order, as checkout takes them, so the two cannot deadlock.

    A book back from sold out owes its waiting shoppers their e-mail, in this transaction.
    """
    lines = db.session.execute(
        select(PurchaseItem.product_id, PurchaseItem.quantity)
        .where(PurchaseItem.purchase_id == purchase_id)
        .order_by(PurchaseItem.product_id)
    ).all()
    for product_id, quantity in lines:
        db.session.execute(
            update(Product)
            .where(Product.id == product_id)
            .values(stock=Product.stock + quantity)
            .execution_options(synchronize_session=False)
        )
    announce_restock(product_id for product_id, _ in lines)


def _reserve_again(purchase_id: int) -> bool:
    """Take the order's copies off the shelf again, all or none (the caller rolls back on False).

    Rows in product-id order, as checkout takes them; each UPDATE takes only
    what is there, so stock never goes below zero whatever runs beside it.
    """
    for product_id, quantity in sales_counts.copies_by_book(purchase_id):
        taken = db.session.execute(
            update(Product)
            .where(Product.id == product_id, Product.stock >= quantity)
            .values(stock=Product.stock - quantity)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return False
    return True


def _clean_note(note: str | None) -> str | None:
    note = (note or "").strip()
    if not note:
        return None
    return CONTROL_CHARACTERS.sub(" ", note)[:NOTE_MAX]


def _shipment(carrier: str | None, tracking_number: str | None) -> dict:
    """The carrier and tracking number, checked (the forms check first, with field errors)."""
    carrier, tracking_number = (carrier or "").strip(), (tracking_number or "").strip()
    if problem := carrier_problem(carrier) or tracking_problem(tracking_number):
        raise BadShipment(problem)
    return {"carrier": carrier, "tracking_number": tracking_number}


def carrier_problem(carrier: str) -> str | None:
    if not carrier:
        return "Please enter the carrier."
    if len(carrier) > CARRIER_MAX:
        return f"Use at most {CARRIER_MAX} characters for the carrier."
    if CONTROL_CHARACTERS.search(carrier):
        return "Remove the control characters from the carrier."
    return None


def tracking_problem(tracking_number: str) -> str | None:
    if not tracking_number:
        return "Please enter the tracking number."
    if len(tracking_number) > TRACKING_MAX:
        return f"Use at most {TRACKING_MAX} characters for the tracking number."
    if not _TRACKING.fullmatch(tracking_number):
        return "A tracking number has letters and digits (spaces, dots, slashes and dashes allowed between them)."
    return None


def unpaid_before(cutoff: datetime, limit: int = EXPIRY_BATCH, released: Collection[int] = ()) -> list[int]:
    """Ids of orders still awaiting payment that were placed before `cutoff`, oldest first.

    A card order whose PaymentIntent exists is listed only when `released` names it (its intent
    cancelled at Stripe): expiring it otherwise would put back books its shopper may still be paying for.
    """
    ids = list(
        db.session.scalars(
            select(Purchase.id)
            .where(
                Purchase.status == AWAITING_PAYMENT,
                Purchase.created_at < cutoff,
                or_(Purchase.payment_intent_id.is_(None), Purchase.id.in_(list(released))),
            )
            .order_by(Purchase.created_at, Purchase.id)
            .limit(limit)
        )
    )
    db.session.rollback()
    return ids


def expire_unpaid(timeout_seconds: float, released: Collection[int] = ()) -> list[int]:
    """Cancel every order unpaid for longer than the timeout (cause `timeout`), each in its own transaction.

    Card orders only among `released` (see unpaid_before). An order paid meanwhile is left alone: its
    move refuses, and the payment stands.
    """
    expired: list[int] = []
    cutoff = utcnow() - timedelta(seconds=timeout_seconds)
    while ids := unpaid_before(cutoff, released=released):
        for purchase_id in ids:
            try:
                move(purchase_id, EXPIRE, TIMEOUT, note="not paid in time")
            except NotAllowed:
                continue
            expired.append(purchase_id)
        if len(ids) < EXPIRY_BATCH:
            break
    return expired


def history(purchase_id: int) -> list[dict]:
    """The order's moves, oldest first; `by` is the name of the admin who made a move (None for anyone else)."""
    rows = db.session.execute(
        select(
            PurchaseEvent.at,
            PurchaseEvent.from_status,
            PurchaseEvent.to_status,
            PurchaseEvent.cause,
            PurchaseEvent.user_id,
            PurchaseEvent.note,
            User.name,
        )
        .outerjoin(User, User.id == PurchaseEvent.user_id)
        .where(PurchaseEvent.purchase_id == purchase_id)
        .order_by(PurchaseEvent.at, PurchaseEvent.id)
    ).all()
    return [
        {
            "at": at,
            "from": from_status,
            "to": to_status,
            "cause": cause,
            "user_id": user_id,
            "note": note,
            "by": name if cause == ADMIN else None,
        }
        for at, from_status, to_status, cause, user_id, note, name in rows
    ]


def shopper_may_cancel(purchase: dict) -> bool:
    """Whether the order's page offers its shopper a cancel button (the move itself decides again)."""
    status = purchase["status"]
    return status == AWAITING_PAYMENT or (status == PAID and purchase.get("payment_method") != MANUAL)
