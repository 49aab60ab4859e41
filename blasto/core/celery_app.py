"""Celery bound to the Flask app (the Flask docs' `celery_init_app` pattern).

Every task runs inside `app.app_context()`, Celery is configured from the same
settings as the web process, and the request id of the request that enqueued
a task travels in the message headers so the worker's log lines carry it.
"""

from __future__ import annotations

import logging
import sys

from celery import Celery, Task, beat, signals
from flask import Flask

from blasto.core.logs import configure_logging, request_id_var
from blasto.core.metrics import connect_task_metrics

REQUEST_ID_HEADER = "blasto_request_id"


class InMemoryScheduler(beat.Scheduler):
    """Celery's in-memory schedule: the clock on the embedded defaults, which have no Redis for RedBeat's lock.

    `lock_key = None` tells RedBeat's beat_init handler there is no lock to take.
    sentry-sdk's Celery integration imports redbeat, which connects that handler
    to every beat, and it fails on a scheduler without the attribute (redbeat
    issue #342): one false error per clock start, sent to Sentry.
    """

    lock_key = None


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.import_name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    celery_app.flask_app = app  # for signal receivers, which run outside any app context
    app.extensions["celery"] = celery_app
    _connect_signals(app.config["LOG_LEVEL"])
    if app.config.get("STATSD"):  # per-task metrics; without STATSD_HOST no receiver is connected
        connect_task_metrics()
    return celery_app


def _connect_signals(log_level: str) -> None:
    """Connect once per process; receivers are global in Celery."""

    @signals.setup_logging.connect(weak=False, dispatch_uid="blasto.setup_logging")
    def setup_logging(loglevel=None, **_):
        # Connecting here stops Celery from installing its own formatters.
        configure_logging(log_level)

    @signals.before_task_publish.connect(weak=False, dispatch_uid="blasto.publish_request_id")
    def add_request_id(headers=None, **_):
        """The one way a request id reaches the worker: every message published carries the current one."""
        request_id = request_id_var.get()
        if headers is not None and request_id:
            headers[REQUEST_ID_HEADER] = request_id

    @signals.task_prerun.connect(weak=False, dispatch_uid="blasto.task_request_id")
    def restore_request_id(task=None, task_id=None, **_):
        request_id = getattr(task.request, REQUEST_ID_HEADER, None) if task else None
        request_id_var.set(request_id or f"task-{task_id}")

    @signals.task_postrun.connect(weak=False, dispatch_uid="blasto.task_request_id_reset")
    def clear_request_id(**_):
        request_id_var.set(None)

    @signals.beat_init.connect(weak=False, dispatch_uid="blasto.clock_exit")
    def exit_in_one_line(**_):
        # RedBeat's clock exits when it can no longer renew its lock (Redis lost it or is
        # away): one logfmt line, not Python's multi-line traceback on stderr.
        sys.excepthook = _log_clock_exit


def _log_clock_exit(kind, error, trace) -> None:
    logging.getLogger("blasto.clock").critical(
        "clock exiting; the platform starts it again and it waits for the lock", exc_info=(kind, error, trace)
    )
