"""Deliver one owed e-mail: claim the row, send, record the outcome; exactly once.

The claim is one statement on both databases: `UPDATE ... WHERE id = (SELECT
... FOR UPDATE SKIP LOCKED)` on Postgres, where a second worker given the same
row skips it instead of waiting; on SQLite, which has no row locks, the
UPDATE takes the database's write lock for the transaction instead. The row
stays locked while the message is sent and is marked sent in the same
transaction, so a redelivered task finds it sent, and a worker killed
mid-send releases it (the database rolls its transaction back) for the next
try. The one gap no database can close, between the server's "250 accepted"
and our commit, is kept to a single commit; the stable Message-ID lets a
receiving system recognise a repeat from that gap.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from blasto.core.extensions import db
from blasto.core.logs import scrubbed, tagged
from blasto.core.mail_settings import HOLD, MailSettings
from blasto.mail.compose import compose
from blasto.mail.transport import DeliveryError, Outgoing
from blasto.models import OutboxMessage, Product, User
from blasto.models.base import utcnow
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
    SENT,
    SHIPPED,
    WITHDRAWN,
)
from blasto.outbox.dispatch import publish
from blasto.outbox.records import ACCOUNT_DELETED, receives_no_mail
from blasto.shop.email_change import CHANGE_LINK_LIFETIME, change_link
from blasto.shop.history import purchase_detail
from blasto.shop.password_reset import RESET_LINK_LIFETIME, reset_link
from blasto.shop.payments import instructions
from blasto.shop.restock_wishes import still_back, wait_for_restock

SWEEP_BATCH = 500
ERROR_MAX = 2000

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    state: str  # sent, failed, withdrawn, retry, skipped or held
    retry_in: float | None = None


def deliver(message_id: int) -> Outcome:
    mail: MailSettings = current_app.config["MAIL"]
    if mail.mode == HOLD:
        return Outcome("held")  # production without SMTP_URL: the row waits, pending
    try:
        row = _claim(message_id)
        if row is None:
            db.session.rollback()
            return _not_claimed(message_id)
        with tagged(row.request_id):
            return _send(row, mail)
    except BaseException:
        db.session.rollback()
        raise


def _claim(message_id: int) -> OutboxMessage | None:
    free = (
        select(OutboxMessage.id)
        .where(OutboxMessage.id == message_id, OutboxMessage.state == PENDING)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    claim = (
        update(OutboxMessage)
        .where(OutboxMessage.id == free)
        .values(attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage)
    )
    return db.session.execute(
        claim, execution_options={"synchronize_session": False, "populate_existing": True}
    ).scalar_one_or_none()


def _not_claimed(message_id: int) -> Outcome:
    row = db.session.execute(
        select(OutboxMessage.state, OutboxMessage.key, OutboxMessage.request_id).where(OutboxMessage.id == message_id)
    ).first()
    db.session.rollback()
    if row is None:
        log.warning("e-mail task for a row that does not exist; dropped", extra={"outbox_id": message_id})
    else:
        why = {SENT: "already sent; not sending twice", FAILED: "failed earlier; `flask outbox retry` sends it again"}
        with tagged(row.request_id):
            log.info(
                f"e-mail {why.get(row.state, 'being sent by another worker')}",
                extra={"outbox_id": message_id, "key": row.key},
            )
    return Outcome("skipped")


def _send(row: OutboxMessage, mail: MailSettings) -> Outcome:
    facts = {"outbox_id": row.id, "key": row.key, "attempt": row.attempts}
    if row.kind == BACK_IN_STOCK and row.product_id is not None and not still_back(row.product_id):
        return _withdraw(row, row.product_id, facts)
    try:
        try:
            message = _compose(row, mail)
        except ValueError as exc:  # e.g. a line break in the recipient: no header can carry it
            raise DeliveryError(f"cannot build the message: {exc}", permanent=True) from None
        with Outgoing(mail) as outgoing:
            outgoing.send(message)
            row.state, row.sent_at, row.last_error = SENT, utcnow(), None
            db.session.commit()
    except DeliveryError as exc:
        return _not_delivered(row, exc, facts)
    log.info("e-mail sent", extra=facts)
    return Outcome(SENT)


SOLD_OUT_AGAIN = (
    "the book sold out again (or was taken off sale) before this was sent; the shopper waits for the next restock"
)


def _withdraw(row: OutboxMessage, product_id: int, facts: dict) -> Outcome:
    """ "Back in stock" is no longer true: send nothing, and the shopper hears of the next restock instead."""
    row.state, row.last_error = WITHDRAWN, SOLD_OUT_AGAIN
    if row.user_id is not None:
        wait_for_restock(row.user_id, product_id)
    db.session.commit()
    log.info("e-mail withdrawn: the book sold out again before it was sent", extra=facts)
    return Outcome(WITHDRAWN)


def _not_delivered(row: OutboxMessage, exc: DeliveryError, facts: dict) -> Outcome:
    config = current_app.config
    row.last_error = str(exc)[:ERROR_MAX]
    if exc.permanent or row.attempts >= config["OUTBOX_MAX_ATTEMPTS"]:
        row.state = FAILED
        db.session.commit()
        # The error stays whole on the row (the admin's outbox page); the log gets it without the address.
        log.error(
            "e-mail failed; `flask outbox retry` sends it again", extra={**facts, "error": scrubbed(row.last_error)}
        )
        return Outcome(FAILED)
    delay = backoff(row.attempts, config["OUTBOX_RETRY_BASE_SECONDS"], config["OUTBOX_RETRY_MAX_SECONDS"])
    row.next_attempt_at = utcnow() + timedelta(seconds=delay)
    db.session.commit()
    log.warning(
        "e-mail not delivered; will retry",
        extra={**facts, "retry_in": round(delay, 3), "error": scrubbed(row.last_error)},
    )
    return Outcome("retry", retry_in=delay)


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential, capped, with jitter: half the step fixed, half random."""
    step = min(cap, base * 2 ** min(attempt - 1, 30))
    return step / 2 + random.uniform(0, step / 2)


def message_id(row: OutboxMessage, mail: MailSettings) -> str:
    return f"<{row.key.replace(':', '.')}.{row.id}@{mail.domain}>"


# An order's e-mails: their subject (with the order number) and template pair (mail/<name>.txt and .html).
ORDER_EMAILS = {
    ORDER_PLACED: ("Your Blasto order #{id}: how to pay", "order_placed"),
    RECEIPT: ("Your Blasto receipt for order #{id}", "receipt"),
    SHIPPED: ("Your Blasto order #{id} is on its way", "shipped"),
    CANCELLED: ("Your Blasto order #{id} is cancelled", "cancelled"),
    REFUNDED: ("Your Blasto order #{id} is cancelled and refunded", "refunded"),
}


def _compose(row: OutboxMessage, mail: MailSettings):
    if receives_no_mail(row.recipient):  # sent again by hand after the account was deleted
        raise DeliveryError(ACCOUNT_DELETED, permanent=True)
    user = db.session.get(User, row.user_id) if row.user_id is not None else None
    common = {"sender": mail.sender, "recipient": row.recipient, "message_id": message_id(row, mail), "link": row.link}
    if row.kind in ORDER_EMAILS:
        purchase = (
            purchase_detail(user.id, row.purchase_id) if user is not None and row.purchase_id is not None else None
        )
        if purchase is None or user is None:
            raise DeliveryError("the purchase no longer exists; there is nothing to send", permanent=True)
        subject, template = ORDER_EMAILS[row.kind]
        return compose(
            subject=subject.format(id=purchase["id"]),
            template=template,
            purchase=purchase,
            name=user.name,
            # Instructions as they were when the order was placed (its deadline does not move).
            instructions=instructions(
                purchase["id"], purchase["total_cents"], purchase["created_at"], purchase["payment_method"]
            ),
            **common,
        )
    if user is None:
        raise DeliveryError("the account no longer exists; there is nothing to send", permanent=True)
    if row.kind == PASSWORD_RESET:
        # Signed now, as it leaves: the row never holds a live link, and the hour starts when it is sent.
        common["link"] = reset_link(row.link, user)
        hours = int(RESET_LINK_LIFETIME.total_seconds() // 3600)
        return compose(
            subject="Reset your Blasto password", template="password_reset", name=user.name, hours=hours, **common
        )
    if row.kind == LOW_STOCK:
        return _low_stock(row, user, common)
    if row.kind == EMAIL_CHANGE:
        common["link"] = change_link(row.link, user, row.recipient)  # signed as it leaves, like a reset link
        hours = int(CHANGE_LINK_LIFETIME.total_seconds() // 3600)
        return compose(
            subject="Confirm your new Blasto e-mail address",
            template="email_change",
            name=user.name,
            hours=hours,
            **common,
        )
    if row.kind == EMAIL_CHANGED:
        return compose(
            subject="Your Blasto e-mail address was changed",
            template="email_changed",
            name=user.name,
            new_email=user.email,
            **common,
        )
    if row.kind == BACK_IN_STOCK:
        book = _book_of(row)
        return compose(
            subject=f"“{book.title}” is back in stock at Blasto",
            template="back_in_stock",
            name=user.name,
            book=book,
            **common,
        )
    return compose(subject="Welcome to Blasto", template="welcome", name=user.name, email=user.email, **common)


def _low_stock(row: OutboxMessage, user: User, common: dict):
    """The alert says what the stock is when it is sent (a restock may have come in meanwhile)."""
    book = _book_of(row)
    return compose(
        subject=f"Low stock: “{book.title}” has {book.stock:,} {'copy' if book.stock == 1 else 'copies'} left",
        template="low_stock",
        name=user.name,
        book=book,
        **common,
    )


def due_for_sweep(after_seconds: float) -> list[int]:
    """Pending rows due `after_seconds` ago or more: their queue message was lost.

    Each is stamped due now, so the next sweep leaves it alone for another
    `after_seconds` instead of queueing it again while it waits in the queue.
    """
    now = utcnow()
    stale = (
        select(OutboxMessage.id)
        .where(OutboxMessage.state == PENDING, OutboxMessage.next_attempt_at <= now - timedelta(seconds=after_seconds))
        .order_by(OutboxMessage.next_attempt_at)
        .limit(SWEEP_BATCH)
        .with_for_update(skip_locked=True)
    )
    ids = list(
        db.session.scalars(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(stale))
            .values(next_attempt_at=now)
            .returning(OutboxMessage.id)
        )
    )
    db.session.commit()
    return sorted(ids)


def send_again(ids: list[int] | None) -> tuple[list[int], int]:
    """Reopen failed rows (all, or these) and queue them: (reopened ids, how many were queued)."""
    reopened = reopen(ids)
    return reopened, publish(current_app.extensions["celery"], reopened)


def reopen(ids: list[int] | None) -> list[int]:
    """Failed rows (all, or these) back to pending with a fresh count of attempts."""
    condition = OutboxMessage.state == FAILED
    if ids is not None:
        condition = condition & OutboxMessage.id.in_(ids)
    statement = (
        update(OutboxMessage)
        .where(condition)
        .values(state=PENDING, attempts=0, next_attempt_at=utcnow())
        .returning(OutboxMessage.id)
    )
    reopened = sorted(db.session.scalars(statement, execution_options={"synchronize_session": False}))
    db.session.commit()
    return reopened


def _book_of(row: OutboxMessage) -> Product:
    """The book an e-mail is about, read as it is sent; a deleted one means there is nothing to send."""
    book = db.session.get(Product, row.product_id) if row.product_id is not None else None
    if book is None:
        raise DeliveryError("the book no longer exists; there is nothing to send", permanent=True)
    return book
