"""Queue each owed e-mail once the transaction that owes it has committed.

A session listener collects the ids of new pending outbox rows at flush and
publishes them after commit, so no caller can queue before the row exists,
or forget to queue. Inside a request the publishing waits until the response
has gone (blasto.core.task_queue), so the broker is never on a shopper's path; when
publishing fails (broker down) the row simply stays pending and the clock's
sweep queues it later.
"""

from __future__ import annotations

from flask import current_app, has_app_context
from sqlalchemy import event

from blasto.core.extensions import db
from blasto.core.mail_settings import HOLD
from blasto.core.task_queue import enqueue_after_response, enqueue_each
from blasto.models import OutboxMessage
from blasto.models.outbox import PENDING

SEND_TASK = "blasto.outbox.send"
_IDS = "blasto.outbox.new_ids"
NOT_QUEUED = "e-mail not queued; the sweep will queue it"


def listen_for_outbox_rows() -> None:
    if not event.contains(db.session, "after_flush", _collect):
        event.listen(db.session, "after_flush", _collect)
        event.listen(db.session, "after_commit", _after_commit)
        event.listen(db.session, "after_rollback", _forget)


def _collect(session, _flush_context) -> None:
    # after_flush still lists the flushed objects as new, now with their ids.
    ids = [obj.id for obj in session.new if isinstance(obj, OutboxMessage) and obj.state == PENDING]
    if ids:
        session.info.setdefault(_IDS, []).extend(ids)


def _forget(session) -> None:
    session.info.pop(_IDS, None)


def _after_commit(session) -> None:
    ids = session.info.pop(_IDS, None)
    if not ids or not has_app_context():
        return
    if current_app.config["MAIL"].mode == HOLD:
        return  # nothing could send them; they wait, pending, for SMTP_URL
    enqueue_after_response(SEND_TASK, ids, warning=NOT_QUEUED, id_field="outbox_ids")


def publish(celery, ids: list[int], request_id: str | None = None) -> int:
    """Queue a send for each id; returns how many were queued (the rest stay pending for the sweep)."""
    return enqueue_each(celery, SEND_TASK, ids, warning=NOT_QUEUED, id_field="outbox_ids", request_id=request_id)
