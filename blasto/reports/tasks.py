"""The worker's report build and the clock's report sweep.

A build is safe to deliver twice: only the delivery that moves the row from
queued to running builds it. If a worker dies mid-build (SIGKILL, a dyno
restart, the hard time limit) the row stops getting heartbeats; the sweep
then queues it again, up to REPORT_MAX_ATTEMPTS builds, and after that ends
it failed with the reason. No report stays at 73% forever.
"""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app

from blasto.models.sweep_heartbeat import record_sweep
from blasto.reports.asking import BUILD_TASK, queue_build
from blasto.reports.building import build as build_report
from blasto.reports.sweeping import sweep_reports

log = logging.getLogger(__name__)


@shared_task(name=BUILD_TASK, ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def build(report_id) -> str:
    if not isinstance(report_id, int) or isinstance(report_id, bool):
        log.error("report task with a malformed id; dropped", extra={"report_id": repr(report_id)[:50]})
        return "malformed"
    return build_report(report_id)


@shared_task(name="blasto.reports.sweep", bind=True, ignore_result=True)
def sweep(self) -> dict:
    config = current_app.config
    outcome = sweep_reports(config["REPORT_STALL_SECONDS"], config["REPORT_MAX_ATTEMPTS"])
    for report_id in outcome["requeued"]:
        queue_build(report_id, celery=self.app)
    if any(outcome.values()):
        log.info("report sweep", extra={name: len(ids) for name, ids in outcome.items()})
    record_sweep(self.name)  # the clock's heartbeat, read by /readyz
    return {name: len(ids) for name, ids in outcome.items()}
