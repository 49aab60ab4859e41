"""Per-task metrics from the Celery worker to StatsD, through Celery's signals, and the backlog gauges.

With STATSD_HOST set, every task run sends, under `<prefix>.celery.task.<name>.`,
the counters `started`, `succeeded`, `failed` and `retried`, and the timer
`runtime` (milliseconds); `<name>` is the task name with dots as underscores
(`blasto_health_heartbeat`), one node per task. The outbox sweep sends the backlog
gauges (blasto.outbox.backlog). The web's request metrics come
from gunicorn's own StatsD support (gunicorn.conf.py). Without STATSD_HOST
no receiver is connected, and the `statsd` package is never imported nor a
socket opened. StatsD is UDP: a collector that is down costs nothing and a
metric can never fail a task.
"""

from __future__ import annotations

import logging
import os
import re
import time

from celery import signals

log = logging.getLogger("blasto.metrics")

_clients: dict[tuple, object] = {}  # per process (prefork children) and per setting
_started: dict[str, float] = {}  # task id -> perf_counter at prerun
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def metric_name(task_name: str, event: str) -> str:
    return f"celery.task.{_UNSAFE.sub('_', task_name or 'unknown')}.{event}"


def _settings(task) -> dict | None:
    flask_app = getattr(getattr(task, "app", None), "flask_app", None)
    return flask_app.config.get("STATSD") if flask_app is not None else None


def client_for(settings: dict | None):
    """This process's StatsClient for `settings`, made on first use; None when off or unusable."""
    if not settings:
        return None
    key = (os.getpid(), settings["host"], settings["port"], settings["prefix"])
    if key not in _clients:
        import statsd

        try:
            _clients[key] = statsd.StatsClient(
                settings["host"], settings["port"], prefix=settings["prefix"], ipv6=":" in settings["host"]
            )
        except OSError as exc:  # the host name does not resolve: say so once, keep working
            log.warning(
                "metrics off: StatsD host unusable",
                extra={"statsd_host": settings["host"], "error": f"{type(exc).__name__}: {exc}"},
            )
            _clients[key] = None
    return _clients[key]


def _count(task, event: str) -> None:
    client = client_for(_settings(task))
    if client is not None:
        client.incr(metric_name(task.name, event))


def connect_task_metrics() -> None:
    """Connect the receivers once per process (Celery's receivers are global)."""

    @signals.task_prerun.connect(weak=False, dispatch_uid="blasto.metrics.prerun")
    def task_started(task_id=None, task=None, **_):
        if task is not None and _settings(task):
            _started[task_id] = time.perf_counter()
            _count(task, "started")

    @signals.task_postrun.connect(weak=False, dispatch_uid="blasto.metrics.postrun")
    def task_finished(task_id=None, task=None, **_):
        began = _started.pop(task_id, None)
        client = client_for(_settings(task)) if task is not None and began is not None else None
        if client is not None and began is not None:
            client.timing(metric_name(task.name, "runtime"), (time.perf_counter() - began) * 1000)

    @signals.task_success.connect(weak=False, dispatch_uid="blasto.metrics.success")
    def task_succeeded(sender=None, **_):
        _count(sender, "succeeded")

    @signals.task_failure.connect(weak=False, dispatch_uid="blasto.metrics.failure")
    def task_failed(sender=None, **_):
        _count(sender, "failed")

    @signals.task_retry.connect(weak=False, dispatch_uid="blasto.metrics.retry")
    def task_retried(sender=None, **_):
        _count(sender, "retried")


def backlog_gauges(figures: dict) -> dict[str, float | None]:
    """Gauge names (under the prefix) for the backlog's figures (blasto.outbox.backlog)."""
    return {
        f"celery.queue.{_UNSAFE.sub('_', figures['name'])}.depth": figures["depth"],
        "outbox.pending": figures["pending_emails"],
        "outbox.oldest_pending_seconds": figures["oldest_pending_email_seconds"],
    }


def send_gauges(settings: dict | None, gauges: dict[str, float | None]) -> None:
    """Send each known gauge (None: unknown this time, so the gauge keeps its last value rather than a false 0)."""
    client = client_for(settings)
    if client is None:
        return
    for name, value in gauges.items():
        if value is not None:
            client.gauge(name, value)
