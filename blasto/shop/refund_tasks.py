"""The worker's card refund task and the clock's sweep that retries what is still owed.

The task is safe to run twice or at once on two workers (the claim in
`card_refunds.make`), so it acks late and is requeued if its worker dies.
A refund Stripe could not make stays owed; the sweep makes it later.
"""

from __future__ import annotations

import logging

from celery import shared_task

from blasto.models.sweep_heartbeat import record_sweep
from blasto.shop.card_refunds import MAKE_TASK, SWEEP_TASK, make, sweep

log = logging.getLogger(__name__)


@shared_task(name=MAKE_TASK, bind=True, ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def make_refund(self, purchase_id) -> str:
    if not isinstance(purchase_id, int) or isinstance(purchase_id, bool):
        log.error("refund task with a malformed id; dropped", extra={"purchase_id": repr(purchase_id)[:50]})
        return "malformed"
    return make(purchase_id).text


@shared_task(name=SWEEP_TASK, bind=True, ignore_result=True)
def sweep_refunds(self) -> int:
    made = sweep()
    if made:
        log.info("card refunds owed: made", extra={"count": made})
    record_sweep(self.name)  # the clock's heartbeat, read by /readyz
    return made
