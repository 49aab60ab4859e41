"""Stripe's events: stored once by the web process, applied once by the worker.

The web process only checks the signature (blasto.webhooks) and stores the
event here, keyed by Stripe's event id, so a redelivery finds the row and
changes nothing. The worker applies it: it claims the row (`FOR UPDATE SKIP
LOCKED`, held on a connection of its own while settle() commits its moves on
the session's), acts, and stamps `applied_at` and the outcome in the claim's
transaction. For a PaymentIntent it never trusts the event's copy: it asks
Stripe for the intent's state now, so events that arrive late or out of order
(a failure after the success) cannot undo a payment. When Stripe cannot be
asked, the claim is rolled back and the event waits, unapplied, for a retry.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import stripe
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from blasto.core.extensions import db
from blasto.models import PaymentEvent
from blasto.models.base import utcnow
from blasto.models.payment_event import OUTCOME_MAX
from blasto.shop import stripe_gateway
from blasto.shop.card_settlement import refunded_at_provider, settle

STRIPE_PROVIDER = "stripe"
INTENT_EVENTS = "payment_intent."  # succeeded, payment_failed, canceled...: all read the intent afresh
CHARGE_REFUNDED = "charge.refunded"
EVENT_ID_MAX, TYPE_MAX, OBJECT_ID_MAX = 255, 100, 255
SWEEP_BATCH = 200
# Stripe could not answer now, but may later: the event stays unapplied and is tried again.
# AuthenticationError and PermissionError are a key to fix in the config, not a verdict on the event.
UNAVAILABLE = (
    stripe.APIConnectionError,
    stripe.APIError,
    stripe.RateLimitError,
    stripe.AuthenticationError,
    stripe.PermissionError,
)

log = logging.getLogger(__name__)


class NotAnEvent(ValueError):
    """A signed body that is not a Stripe event; the message says why, for the 400."""


class ProviderUnavailable(Exception):
    """Stripe could not be asked (down, slow, rate-limited, key refused): the event is left for a retry."""


@dataclass(frozen=True)
class Received:
    event_id: str
    type: str
    object_id: str | None
    payload: str


def parse(payload: str) -> Received:
    """The fields stored with the event, from its JSON (already verified as Stripe's)."""
    try:
        event = json.loads(payload)
    except ValueError:
        raise NotAnEvent("the body is not JSON") from None
    if not isinstance(event, dict):
        raise NotAnEvent("the body is not a JSON object")
    event_id, kind = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= EVENT_ID_MAX:
        raise NotAnEvent("the event has no id")
    if not isinstance(kind, str) or not 0 < len(kind) <= TYPE_MAX:
        raise NotAnEvent("the event has no type")
    data = event.get("data")
    found = data.get("object") if isinstance(data, dict) else None
    object_id = found.get("id") if isinstance(found, dict) else None
    if not isinstance(object_id, str) or not 0 < len(object_id) <= OBJECT_ID_MAX:
        object_id = None
    return Received(event_id, kind, object_id, payload)


def store(received: Received) -> int | None:
    """Insert the event and commit; its row id, or None when it was stored before (a redelivery)."""
    dialect = {"postgresql": postgresql, "sqlite": sqlite}[db.session.get_bind().dialect.name]
    insert = dialect.insert(PaymentEvent).values(
        provider=STRIPE_PROVIDER,
        event_id=received.event_id,
        type=received.type,
        object_id=received.object_id,
        payload=received.payload,
        received_at=utcnow(),
    )
    row_id = db.session.scalar(
        insert.on_conflict_do_nothing(index_elements=[PaymentEvent.provider, PaymentEvent.event_id]).returning(
            PaymentEvent.id
        )
    )
    db.session.commit()
    return row_id


def apply(row_id: int) -> str | None:
    """Act on the stored event once; its outcome, or None when it is applied already or another worker holds it.

    Raises ProviderUnavailable (nothing recorded, the event waits) when Stripe cannot be asked.
    """
    with db.engine.connect() as claim, claim.begin():
        row = claim.execute(
            select(PaymentEvent.type, PaymentEvent.object_id, PaymentEvent.payload)
            .where(PaymentEvent.id == row_id, PaymentEvent.applied_at.is_(None))
            .with_for_update(skip_locked=True)
        ).first()
        if row is None:
            return None
        outcome = act(row.type, row.object_id, row.payload)[:OUTCOME_MAX]
        claim.execute(
            update(PaymentEvent).where(PaymentEvent.id == row_id).values(applied_at=utcnow(), outcome=outcome)
        )
    log.info("payment event applied", extra={"payment_event": row_id, "type": row.type, "outcome": outcome})
    return outcome


def act(kind: str, object_id: str | None, payload: str) -> str:
    """What the event means for the shop, done; returns it in words for the record."""
    if kind.startswith(INTENT_EVENTS):
        return intent_changed(object_id)
    if kind == CHARGE_REFUNDED:
        return charge_refunded(_object(payload))
    return f"{kind} is not an event the shop acts on: nothing changed"


def intent_changed(intent_id: str | None) -> str:
    """Read the intent's state now from Stripe and settle the order with it (the event's copy may be stale)."""
    if not intent_id or not intent_id.startswith(stripe_gateway.INTENT_PREFIX):
        return "the event names no PaymentIntent: nothing changed"
    try:
        intent = stripe_gateway.retrieve_intent(intent_id)
    except UNAVAILABLE as error:
        raise ProviderUnavailable(f"{type(error).__name__}: {error}") from error
    except stripe.InvalidRequestError as refused:  # no such intent (another account's, or a test's): nothing to do
        return f"Stripe does not show payment {intent_id} ({refused.code or refused.http_status}): nothing changed"
    except RuntimeError as error:  # Stripe switched off since the event came: wait for the keys to come back
        raise ProviderUnavailable(str(error)) from error
    return settle(intent)


def charge_refunded(charge: Mapping[str, Any]) -> str:
    """Stripe says money went back on a charge (our own refund coming back, or one made in the dashboard).

    What the order becomes is card_settlement's to decide; `amount_refunded` is all refunded so far,
    so an older event arriving late only ever says less than a newer one.
    """
    intent_id = charge.get("payment_intent")
    if not isinstance(intent_id, str) or not intent_id.startswith(stripe_gateway.INTENT_PREFIX):
        return f"charge {str(charge.get('id'))[:100]} names no PaymentIntent: nothing changed"
    return refunded_at_provider(intent_id, charge.get("amount_refunded"))  # type: ignore[arg-type]


def _object(payload: str) -> Mapping[str, Any]:
    data = json.loads(payload).get("data")
    found = data.get("object") if isinstance(data, dict) else None
    return found if isinstance(found, dict) else {}


def due_for_sweep(after_seconds: float, limit: int = SWEEP_BATCH) -> list[int]:
    """Events stored more than `after_seconds` ago and not applied (their task was lost), oldest first."""
    cutoff = utcnow() - timedelta(seconds=after_seconds)
    ids = list(
        db.session.scalars(
            select(PaymentEvent.id)
            .where(PaymentEvent.applied_at.is_(None), PaymentEvent.received_at < cutoff)
            .order_by(PaymentEvent.received_at, PaymentEvent.id)
            .limit(limit)
        )
    )
    db.session.rollback()
    return ids
