"""Owing an e-mail: a row added to the caller's session, committed with its cause."""

from __future__ import annotations

import secrets

from flask import current_app, has_request_context, url_for
from sqlalchemy import func, select, update

from blasto.core.extensions import db
from blasto.core.logs import request_id_var
from blasto.models import OutboxMessage, User
from blasto.models.outbox import (
    BACK_IN_STOCK,
    CANCELLED,
    EMAIL_CHANGE,
    EMAIL_CHANGED,
    FAILED,
    LOW_STOCK,
    ORDER_PLACED,
    PASSWORD_RESET,
    PENDING,
    RECEIPT,
    REFUNDED,
    SHIPPED,
    WELCOME,
)
from blasto.models.purchase import CANCELLED as ORDER_CANCELLED
from blasto.models.purchase import PAID
from blasto.models.purchase import REFUNDED as ORDER_REFUNDED
from blasto.models.purchase import SHIPPED as ORDER_SHIPPED

# The e-mail each state of an order owes its shopper; the receipt only once the money is in.
EMAIL_FOR_STATUS = {PAID: RECEIPT, ORDER_SHIPPED: SHIPPED, ORDER_CANCELLED: CANCELLED, ORDER_REFUNDED: REFUNDED}


def order_email_key(kind: str, purchase_id: int) -> str:
    return f"{kind}:{purchase_id}"


def owe_order_placed(purchase_id: int, user_id: int) -> OutboxMessage:
    """What was ordered and how to pay for it; written with the purchase."""
    return _owe_order_email(ORDER_PLACED, purchase_id, user_id)


def owe_order_email(status: str, purchase_id: int, user_id: int) -> OutboxMessage:
    """The e-mail an order's new state owes (the receipt for `paid`); written with the move."""
    return _owe_order_email(EMAIL_FOR_STATUS[status], purchase_id, user_id)


def _owe_order_email(kind: str, purchase_id: int, user_id: int) -> OutboxMessage:
    email = db.session.scalar(select(User.email).where(User.id == user_id))
    return _owe(
        kind,
        order_email_key(kind, purchase_id),
        email or "",
        user_id,
        purchase_id,
        public_link("site.purchase", purchase_id=purchase_id),
    )


def owe_welcome(user: User) -> OutboxMessage:
    return _owe(WELCOME, f"welcome:{user.id}", user.email, user.id, None, public_link("site.home"))


def owe_password_reset(user: User) -> OutboxMessage:
    """Each ask is its own e-mail (a random key); the row's link is the reset page, the worker adds a token as it sends."""
    key = f"{PASSWORD_RESET}:{user.id}:{secrets.token_hex(8)}"
    return _owe(PASSWORD_RESET, key, user.email, user.id, None, public_link("site.choose_password"))


def owe_low_stock(product_id: int, purchase_id: int) -> list[OutboxMessage]:
    """One alert to every admin: the purchase `purchase_id` took the book below its threshold.

    Written with the sale. Only one sale crosses a threshold on its way down,
    so the key (book, crossing sale, admin) is unique per crossing: a row
    can never be owed twice for the same one.
    """
    admins = db.session.execute(select(User.id, User.email).where(User.is_admin).order_by(User.id)).all()
    link = public_link("admin.edit_book", book_id=product_id)
    return [
        _owe(
            LOW_STOCK,
            f"{LOW_STOCK}:{product_id}:{purchase_id}:{admin_id}",
            email,
            admin_id,
            None,
            link,
            product_id=product_id,
        )
        for admin_id, email in admins
    ]


def owe_back_in_stock(wish_id: int, user_id: int, product_id: int) -> OutboxMessage:
    """A sold-out book the shopper asked about is back; keyed by the wish, so owed once per wish."""
    email = db.session.scalar(select(User.email).where(User.id == user_id))
    return _owe(
        BACK_IN_STOCK,
        f"{BACK_IN_STOCK}:{wish_id}",
        email or "",
        user_id,
        None,
        public_link("site.book", product_id=product_id),
        product_id=product_id,
    )


def _owe(
    kind: str,
    key: str,
    recipient: str,
    user_id: int,
    purchase_id: int | None,
    link: str,
    product_id: int | None = None,
) -> OutboxMessage:
    message = OutboxMessage(
        kind=kind,
        key=key,
        recipient=recipient,
        user_id=user_id,
        purchase_id=purchase_id,
        product_id=product_id,
        link=link,
        request_id=request_id_var.get(),
    )
    if receives_no_mail(recipient):  # a deleted account's order shipped or refunded later: on record, never sent
        message.state, message.last_error = FAILED, ACCOUNT_DELETED
    db.session.add(message)
    return message


def receives_no_mail(recipient: str) -> bool:
    """An address in the .invalid top-level domain (RFC 2606), as a deleted account's: no server takes its mail."""
    domain = recipient.rpartition("@")[2].strip().lower().rstrip(".")
    return domain == "invalid" or domain.endswith(".invalid")


def owe_email_change(user: User, new_email: str) -> OutboxMessage:
    """The confirmation link, to the new address; the worker signs it as it sends (as for a reset)."""
    key = f"{EMAIL_CHANGE}:{user.id}:{secrets.token_hex(8)}"
    return _owe(EMAIL_CHANGE, key, new_email, user.id, None, public_link("site.confirm_email"))


def owe_email_changed(user: User, old_email: str) -> OutboxMessage:
    """A word to the old address that the account's e-mail is now another one."""
    key = f"{EMAIL_CHANGED}:{user.id}:{secrets.token_hex(8)}"
    return _owe(EMAIL_CHANGED, key, old_email, user.id, None, public_link("site.account"))


ACCOUNT_DELETED = "the account was deleted before this was sent; not sending it"


def forget_recipient(user_id: int, placeholder: str) -> None:
    """A deleted account's e-mails: the address replaced on every row, and none still owed is sent.

    A pending reset e-mail would otherwise carry a live link (signed as it
    leaves) to the old address. In the caller's transaction.
    """
    mine = OutboxMessage.user_id == user_id
    db.session.execute(
        update(OutboxMessage)
        .where(mine, OutboxMessage.state == PENDING)
        .values(state=FAILED, last_error=ACCOUNT_DELETED)
    )
    db.session.execute(update(OutboxMessage).where(mine).values(recipient=placeholder))


def public_link(endpoint: str, **values) -> str:
    """An absolute link for an e-mail: PUBLIC_URL when set, else the request's own host."""
    base = current_app.config.get("PUBLIC_URL", "")
    if base:
        return base + current_app.url_map.bind("localhost").build(endpoint, values)
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    return ""


def state_counts() -> dict[str, int]:
    """How many owed e-mails are in each state (states with none are absent)."""
    return dict(db.session.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)).all())


def receipt_state(purchase_id: int, kind: str = RECEIPT) -> dict | None:
    """What the purchase page and the API show of an order's e-mail (the receipt unless named): state, when sent."""
    row = db.session.execute(
        select(OutboxMessage.state, OutboxMessage.sent_at, OutboxMessage.recipient).where(
            OutboxMessage.key == order_email_key(kind, purchase_id)
        )
    ).first()
    if row is None:
        return None
    return {"state": row.state, "sent_at": row.sent_at, "recipient": row.recipient}
