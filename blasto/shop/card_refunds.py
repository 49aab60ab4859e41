"""Sending a card order's money back through Stripe: owed with the move, made by the worker, exactly once.

The move to `refunded` writes a CardRefund row in its own transaction
(`owe`), and the refund task is queued only after that commit (`queue`): a
refund is never asked of Stripe for a move that rolled back, and never
forgotten for one that committed. `make` claims the row (`FOR UPDATE SKIP
LOCKED`: a second worker given the same refund skips it), asks Stripe what
this payment has had back already, refunds what is still owed and stores the
refund's id in the same transaction. Asking first closes the gap between
Stripe's answer and our commit (a worker killed there): the retry finds our
refund at Stripe by its metadata and records it instead of paying twice; the
per-order idempotency key does the same on real Stripe, but localstripe
ignores it. When Stripe cannot be reached the row stays owed, with its
error, and the clock's sweep tries again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import stripe
from sqlalchemy import or_, select, update

from blasto.core.extensions import db
from blasto.core.task_queue import enqueue_after_response
from blasto.models import CardRefund
from blasto.models.base import utcnow
from blasto.models.card_refund import ERROR_MAX, REASON_MAX
from blasto.shop import stripe_gateway

MAKE_TASK, SWEEP_TASK = "blasto.refunds.make", "blasto.refunds.sweep"
# A refund not made (Stripe down, the task lost) is tried again this long after its last try.
RETRY_AFTER_SECONDS = 60.0
SWEEP_BATCH = 100
ALARM_AFTER_ATTEMPTS = 5
# Refunds at Stripe that count as money sent back (a failed or canceled one does not).
_COUNTED = ("succeeded", "pending", "requires_action")

log = logging.getLogger(__name__)


def owe(purchase_id: int, intent_id: str, amount_cents: int, reason: str) -> CardRefund:
    """Write down the refund the caller's move owes; committed with the move, or not at all."""
    refund = CardRefund(
        purchase_id=purchase_id, payment_intent_id=intent_id, amount_cents=amount_cents, reason=reason[:REASON_MAX]
    )
    db.session.add(refund)
    return refund


def queue(purchase_id: int) -> None:
    """Queue the refund task now that the move has committed; inside a request, once the response has gone.

    A broker that is down loses nothing: the row stays owed and the sweep makes it.
    """
    enqueue_after_response(
        MAKE_TASK, [purchase_id], warning="refund not queued; the sweep will make it", id_field="purchase_id"
    )


@dataclass(frozen=True)
class Outcome:
    made: bool  # made now (not: made before, not owed, or not made this time)
    text: str  # what happened, in words for the log


def make(purchase_id: int) -> Outcome:
    """Make the refund the order is owed, unless made already."""
    try:
        owed = _claim(purchase_id)
        if owed is None:
            db.session.rollback()
            return Outcome(False, f"order #{purchase_id} owes no refund (made already, being made, or none owed)")
        try:
            refund_id = _send_back(owed)
        except (stripe.StripeError, RuntimeError) as exc:
            owed.last_error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX]
            db.session.commit()
            # An error from the fifth try on: a refund stuck that long needs a person (and reaches Sentry).
            level = logging.ERROR if owed.attempts >= ALARM_AFTER_ATTEMPTS else logging.WARNING
            log.log(
                level,
                "card refund not made; the sweep tries again",
                extra={"purchase_id": purchase_id, "attempts": owed.attempts, "error": owed.last_error},
            )
            return Outcome(False, f"refund for order #{purchase_id} not made ({owed.last_error}): still owed")
        owed.refund_id, owed.made_at, owed.last_error = refund_id, utcnow(), None
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    log.info("card refund made", extra={"purchase_id": purchase_id, "refund_id": refund_id})
    return Outcome(True, f"refund {refund_id} made for order #{purchase_id}")


def _claim(purchase_id: int) -> CardRefund | None:
    """The order's owed refund, counted as tried and held for this transaction; None if another worker holds it.

    One statement on both databases, as the outbox claims an e-mail: on
    Postgres the row lock (a second worker skips it rather than wait); on
    SQLite the UPDATE takes the database's write lock for the transaction.
    """
    free = (
        select(CardRefund.id)
        .where(CardRefund.purchase_id == purchase_id, CardRefund.refund_id.is_(None))
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    claim = (
        update(CardRefund)
        .where(CardRefund.id == free)
        .values(attempts=CardRefund.attempts + 1, attempted_at=utcnow())
        .returning(CardRefund)
    )
    return db.session.execute(
        claim, execution_options={"synchronize_session": False, "populate_existing": True}
    ).scalar_one_or_none()


def _send_back(owed: CardRefund) -> str:
    """Stripe's id of the refund that returns this order's money: found if made already, else made now."""
    made = stripe_gateway.refunds_of(owed.payment_intent_id)
    counted = [each for each in made if each.status in _COUNTED]
    ours = [each for each in counted if _purchase_of(each) == str(owed.purchase_id)]
    if ours:  # our own, made before a commit that never happened
        return ours[0].id
    already = sum(each.amount for each in counted)
    if already >= owed.amount_cents:  # sent back at Stripe (its dashboard) meanwhile
        return counted[0].id
    remainder = owed.amount_cents - already if already else None
    return stripe_gateway.refund(owed.payment_intent_id, owed.purchase_id, remainder).id


def _purchase_of(refund: stripe.Refund) -> str | None:
    """The order a refund says it is for (the metadata our own refunds carry)."""
    metadata = refund.metadata
    if not metadata or "purchase_id" not in metadata:
        return None
    return str(metadata["purchase_id"])


def due(after_seconds: float, limit: int = SWEEP_BATCH) -> list[int]:
    """Orders whose refund is owed and has not been tried for `after_seconds`, oldest first."""
    cutoff = utcnow() - timedelta(seconds=after_seconds)
    ids = list(
        db.session.scalars(
            select(CardRefund.purchase_id)
            .where(
                CardRefund.refund_id.is_(None),
                or_(
                    CardRefund.attempted_at < cutoff,
                    CardRefund.attempted_at.is_(None) & (CardRefund.created_at < cutoff),
                ),
            )
            .order_by(CardRefund.created_at, CardRefund.id)
            .limit(limit)
        )
    )
    db.session.rollback()
    return ids


def sweep(after_seconds: float = RETRY_AFTER_SECONDS) -> int:
    """Make the refunds still owed (Stripe was down, the task was lost); returns how many were made."""
    return sum(make(purchase_id).made for purchase_id in due(after_seconds))


def refund_of(purchase_id: int) -> dict | None:
    """What the order's card refund is: owed or made, with Stripe's id; None when none is owed."""
    row = db.session.execute(
        select(CardRefund.refund_id, CardRefund.amount_cents, CardRefund.made_at, CardRefund.last_error).where(
            CardRefund.purchase_id == purchase_id
        )
    ).first()
    if row is None:
        return None
    return {
        "refund_id": row.refund_id,
        "amount_cents": row.amount_cents,
        "made_at": row.made_at,
        "error": row.last_error,
    }
