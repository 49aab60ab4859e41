"""The worker's heartbeat: the clock sends it, a worker stamps the time, /readyz reads its age."""

from celery import shared_task

from blasto.core.config import HEARTBEAT_TASK
from blasto.models.sweep_heartbeat import record_sweep


@shared_task(name=HEARTBEAT_TASK, ignore_result=True)
def heartbeat() -> None:
    record_sweep(HEARTBEAT_TASK)
