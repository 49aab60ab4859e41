"""The clock's order sweep: orders unpaid past PAYMENT_TIMEOUT are cancelled and their stock released.

Each cancellation is its own move (blasto.shop.orders), so a payment that
lands at the same moment either wins, and the order stays paid, or loses
to the expiry, never both. A card order's PaymentIntent is cancelled at
Stripe first (blasto.shop.card_reconciliation), so nobody can pay for books
put back; a card order whose intent Stripe could not cancel waits for a
later round, the others expire on time.

The same sweep asks the worker again for cover sizes whose task was lost
(blasto.shop.covers.ask_again_for_lost_sizes): one more clock entry would
be one more heartbeat for /readyz to watch, for a few rows a day.
"""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app

from blasto.models.sweep_heartbeat import record_sweep
from blasto.shop.card_reconciliation import release_before_expiry
from blasto.shop.covers import ask_again_for_lost_sizes
from blasto.shop.orders import expire_unpaid

ORDERS_SWEEP = "blasto.orders.sweep"

log = logging.getLogger(__name__)


@shared_task(name=ORDERS_SWEEP, bind=True, ignore_result=True)
def sweep(self) -> int:
    timeout = current_app.config["PAYMENT_TIMEOUT_SECONDS"]
    expired = expire_unpaid(timeout, released=release_before_expiry(timeout))
    if expired:
        log.info("orders not paid in time: cancelled, stock released", extra={"count": len(expired)})
    ask_again_for_lost_sizes(current_app.config["COVER_SWEEP_AFTER_SECONDS"], celery=self.app)
    record_sweep(self.name)  # the clock's heartbeat, read by /readyz
    return len(expired)
