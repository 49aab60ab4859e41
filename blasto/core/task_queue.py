"""Queueing a task for work the database already holds: try once, warn, and let a sweep do the rest.

Every task Blasto queues stands for a committed row (an owed e-mail, refund,
report, payment event or cover), and a clock sweep finds any row whose task
never came. So a publish fails fast when the broker is down, and inside a
request it waits until the response has gone: the broker is never on a
client's path.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from flask import after_this_request, current_app, has_request_context, request

from blasto.core.logs import request_id_var, tagged

# One quick retry, then give up: the sweep is the retry.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}

log = logging.getLogger(__name__)


def enqueue(task: str, args: list, *, warning: str, countdown: float | None = None, celery=None, **fields) -> bool:
    """Publish one task; False, and `warning` logged with `fields`, if the broker refused it."""
    celery = celery or current_app.extensions["celery"]
    try:
        celery.send_task(task, args=args, countdown=countdown, retry_policy=PUBLISH_RETRY)
    except Exception as exc:  # broker down: the row waits for its sweep
        log.warning(warning, extra={**fields, "error": f"{type(exc).__name__}: {exc}"})
        return False
    return True


def enqueue_each(
    celery, task: str, ids: Sequence[int], *, warning: str, id_field: str, request_id: str | None = None
) -> int:
    """Queue `task` once per id, in order; how many were queued (after a refusal the rest wait for the sweep).

    `request_id` is the one that owed them: after a response the request's own
    is gone, so it is set again for Celery's publish signal (blasto.core.celery_app).
    """
    with tagged(request_id):
        for count, row_id in enumerate(ids):
            fields: dict[str, Any] = {id_field: ",".join(map(str, ids[count:]))}
            if not enqueue(task, [row_id], warning=warning, celery=celery, **fields):
                return count
    return len(ids)


def enqueue_after_response(task: str, ids: Sequence[int], *, warning: str, id_field: str) -> None:
    """Queue `task` for each id once the response has gone; at once outside a request (the worker, the CLI)."""
    celery, request_id = current_app.extensions["celery"], request_id_var.get()
    if not has_request_context():
        enqueue_each(celery, task, ids, warning=warning, id_field=id_field, request_id=request_id)
        return
    # Per request and task, not per app context (a test or script may push one context for several).
    waiting: list[int] = request.environ.setdefault(f"blasto.after_response.{task}", [])
    if not waiting:

        @after_this_request
        def enqueue_when_sent(response):
            response.call_on_close(
                lambda: enqueue_each(celery, task, waiting, warning=warning, id_field=id_field, request_id=request_id)
            )
            return response

    waiting.extend(ids)
