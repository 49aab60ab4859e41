"""The worker's send task and the clock's sweep.

The send is safe to run twice or concurrently (the claim in `delivery`), so it
acks late and is requeued if its worker dies. A transient failure is retried
by queueing the same task with a countdown; if that queueing fails, the row is
still pending with its due time, and the sweep finds it.
"""

from __future__ import annotations

import logging

from celery import shared_task, signals
from flask import current_app

from blasto.core.mail_settings import HOLD
from blasto.core.task_queue import enqueue
from blasto.models.sweep_heartbeat import record_sweep
from blasto.outbox.backlog import send_backlog_gauges
from blasto.outbox.delivery import deliver, due_for_sweep
from blasto.outbox.dispatch import SEND_TASK, publish

log = logging.getLogger(__name__)


@shared_task(name=SEND_TASK, bind=True, ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def send(self, message_id) -> str:
    if not isinstance(message_id, int) or isinstance(message_id, bool):
        log.error("e-mail task with a malformed id; dropped", extra={"outbox_id": repr(message_id)[:50]})
        return "malformed"
    outcome = deliver(message_id)
    if outcome.retry_in is not None:
        enqueue(
            SEND_TASK,
            [message_id],
            countdown=outcome.retry_in,
            celery=self.app,
            warning="e-mail retry not queued; the sweep will queue it",
            outbox_id=message_id,
        )
    return outcome.state


@shared_task(name="blasto.outbox.sweep", bind=True, ignore_result=True)
def sweep(self) -> int:
    """Queue pending rows whose message was lost (broker down, worker killed); stamp the heartbeat; send the gauges.

    The heartbeat is stamped even while mail is held: the clock is running, which is what /readyz asks.
    """
    queued = 0
    if current_app.config["MAIL"].mode != HOLD:
        ids = due_for_sweep(current_app.config["OUTBOX_SWEEP_AFTER_SECONDS"])
        if ids:
            log.info("sweep: queueing e-mails again", extra={"count": len(ids)})
        queued = publish(self.app, ids)
    record_sweep(self.name)
    if current_app.config["STATSD"]:  # without STATSD_HOST not even the figures are read
        send_backlog_gauges(self.app)
    return queued


@signals.worker_ready.connect(weak=False, dispatch_uid="blasto.outbox.say_held")
def say_if_mail_is_held(sender=None, **_):
    """Production without SMTP_URL starts anyway; say once why no mail leaves."""
    flask_app = getattr(getattr(sender, "app", None), "flask_app", None)
    if flask_app is not None and flask_app.config["MAIL"].mode == HOLD:
        log.warning("SMTP_URL is not set: receipts and welcome e-mails stay pending until it is; none is dropped")
