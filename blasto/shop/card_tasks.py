"""The worker's task that applies a stored Stripe event, and the clock's card sweep.

The webhook queues `apply_event` after its commit; the task is safe to run
twice or at once (the claim in card_events), so it acks late. When Stripe
cannot be asked it is queued again with a growing countdown; if even that
queueing fails, or the retries run out, the event is still stored unapplied
and the sweep applies it. The sweep also asks Stripe about card orders still
awaiting payment (blasto.shop.card_reconciliation), so a lost webhook never
leaves a paid order unpaid.
"""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app

from blasto.core.card_sweep_settings import CARD_SWEEP_ENTRY
from blasto.core.task_queue import enqueue, enqueue_after_response, enqueue_each
from blasto.models.sweep_heartbeat import record_sweep
from blasto.shop.card_events import ProviderUnavailable, apply, due_for_sweep
from blasto.shop.card_reconciliation import reconcile, stripe_on

APPLY_TASK, SWEEP_TASK = "blasto.cards.apply_event", "blasto.cards.sweep"
RETRY_BASE_SECONDS, RETRY_MAX_SECONDS, MAX_RETRIES = 5.0, 600.0, 8
NOT_QUEUED = "payment event not queued; the sweep will apply it"

log = logging.getLogger(__name__)


def publish(celery, row_ids: list[int], request_id: str | None = None) -> int:
    """Queue `apply_event` for each stored event; how many were queued (the rest wait for the sweep)."""
    return enqueue_each(
        celery, APPLY_TASK, row_ids, warning=NOT_QUEUED, id_field="payment_events", request_id=request_id
    )


def publish_after_response(row_ids: list[int]) -> None:
    """Queue `apply_event` once the webhook's answer has gone: Stripe never waits on the broker."""
    enqueue_after_response(APPLY_TASK, row_ids, warning=NOT_QUEUED, id_field="payment_events")


@shared_task(name=APPLY_TASK, bind=True, ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def apply_event(self, row_id, attempt=0) -> str:
    if not isinstance(row_id, int) or isinstance(row_id, bool) or not isinstance(attempt, int):
        log.error("payment event task with a malformed id; dropped", extra={"payment_event": repr(row_id)[:50]})
        return "malformed"
    try:
        outcome = apply(row_id)
    except ProviderUnavailable as error:
        if attempt >= MAX_RETRIES:
            log.warning("Stripe still unreachable; the sweep will apply the event", extra={"payment_event": row_id})
            return "left for the sweep"
        delay = min(RETRY_BASE_SECONDS * 2**attempt, RETRY_MAX_SECONDS)
        log.warning(
            "Stripe unreachable; the event is tried again",
            extra={"payment_event": row_id, "retry_in": delay, "error": str(error)[:300]},
        )
        enqueue(
            APPLY_TASK,
            [row_id, attempt + 1],
            countdown=delay,
            celery=self.app,
            warning="payment event retry not queued; the sweep will apply it",
            payment_event=row_id,
        )
        return "retry"
    return outcome or "already applied"


@shared_task(name=SWEEP_TASK, bind=True, ignore_result=True)
def sweep(self) -> int:
    """Queue stored events whose task was lost, and settle card orders Stripe shows paid; stamp the heartbeat.

    Returns how many events were queued plus how many orders were settled.
    """
    done = 0
    if stripe_on():
        config = current_app.config
        ids = due_for_sweep(config["CARD_EVENT_RETRY_AFTER_SECONDS"])
        if ids:
            log.info("sweep: applying payment events whose task was lost", extra={"count": len(ids)})
            done += publish(self.app, ids)
        every = float(config["CELERY"]["beat_schedule"][CARD_SWEEP_ENTRY]["schedule"])
        done += len(reconcile(config["CARD_RECONCILE_AFTER_SECONDS"], every))
    record_sweep(self.name)
    return done
