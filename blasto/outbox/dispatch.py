"""Queue each owed e-mail once the transaction that owes it has committed.

A session listener collects the ids of new outbox rows at flush and
publishes them after commit, so no caller can queue before the row exists,
or forget to queue. Inside a request the publishing waits until the response
has gone (`call_on_close`), so the broker is never on a shopper's path; when
publishing fails (broker down) the row simply stays pending and the clock's
sweep queues it later.
"""

from __future__ import annotations

import logging

from flask import after_this_request, current_app, has_app_context, has_request_context, request
from sqlalchemy import event

from blasto.core.extensions import db
from blasto.core.logs import request_id_var, tagged
from blasto.core.mail_settings import HOLD
from blasto.models import OutboxMessage

SEND_TASK = "blasto.outbox.send"
_IDS = "blasto.outbox.new_ids"
# Fail fast when the broker is down: the sweep is the retry.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}

log = logging.getLogger(__name__)


def listen_for_outbox_rows() -> None:
    if not event.contains(db.session, "after_flush", _collect):
        event.listen(db.session, "after_flush", _collect)
        event.listen(db.session, "after_commit", _after_commit)
        event.listen(db.session, "after_rollback", _forget)


def _collect(session, _flush_context) -> None:
    # after_flush still lists the flushed objects as new, now with their ids.
    ids = [obj.id for obj in session.new if isinstance(obj, OutboxMessage)]
    if ids:
        session.info.setdefault(_IDS, []).extend(ids)


def _forget(session) -> None:
    session.info.pop(_IDS, None)


def _after_commit(session) -> None:
    ids = session.info.pop(_IDS, None)
    if not ids or not has_app_context():
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config["MAIL"].mode == HOLD:
        return  # nothing could send them; they wait, pending, for SMTP_URL
    celery, request_id = app.extensions["celery"], request_id_var.get()
    if not has_request_context():
        publish(celery, ids, request_id)
        return
    # Per request, not per app context (a test or script may push one context for several).
    waiting = request.environ.setdefault("blasto.outbox_to_publish", [])
    if not waiting:

        @after_this_request
        def publish_when_sent(response):
            response.call_on_close(lambda: publish(celery, waiting, request_id))
            return response

    waiting.extend(ids)


def publish(celery, ids: list[int], request_id: str | None = None) -> int:
    """Queue a send for each id; returns how many were queued.

    `request_id` is the one that owed them: after the response the request's
    own is gone, so it is set again here for Celery's publish signal
    (blasto.core.celery_app), the one path a request id takes to the worker.
    """
    with tagged(request_id):
        for count, message_id in enumerate(ids):
            try:
                celery.send_task(SEND_TASK, args=[message_id], retry_policy=PUBLISH_RETRY)
            except Exception as exc:  # broker down: the rows stay pending for the sweep
                log.warning(
                    "e-mail not queued; the sweep will queue it",
                    extra={"outbox_ids": ",".join(map(str, ids[count:])), "error": f"{type(exc).__name__}: {exc}"},
                )
                return count
    return len(ids)
