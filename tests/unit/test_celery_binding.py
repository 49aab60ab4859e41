"""Celery bound to Flask: tasks run in the app context and keep the request id."""

import pytest
from celery import shared_task
from celery.contrib.testing.worker import start_worker
from flask import current_app, has_app_context

from blasto.core.config import HEARTBEAT_TASK
from blasto.core.extensions import csrf
from blasto.core.logs import request_id_var
from tests.support.processes import wait_for
from tests.support.sweeps import age_heartbeat, run_every_sweep

SEEN: dict[str, dict] = {}  # task id -> what the probe saw; the solo worker runs in this process


@shared_task(name="tests.context_probe", bind=True)
def context_probe(self):
    SEEN[self.request.id] = {
        "app_context": has_app_context(),
        "app": current_app.import_name,
        "request_id": request_id_var.get(),
    }


def seen(task_id: str) -> dict:
    return wait_for(lambda: SEEN.get(task_id), 10, what="the worker to run the probe")


def test_celery_is_configured_from_the_app_settings(app):
    celery = app.extensions["celery"]
    assert celery.conf.broker_url == app.config["CELERY"]["broker_url"]
    assert celery.conf.task_acks_late is True
    assert celery.conf.worker_prefetch_multiplier == 1


@pytest.mark.slow  # a large data set, or a real Celery worker: out of `--fast`
def test_task_runs_inside_the_app_context_with_the_enqueuing_request_id(app):
    celery = app.extensions["celery"]

    def enqueue():
        return {"task_id": context_probe.apply_async().id}

    csrf.exempt(enqueue)  # a test-only JSON route, not one of the shop's forms
    app.add_url_rule("/_test/enqueue", view_func=enqueue, methods=["POST"])

    with start_worker(celery, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        task_id = (
            app.test_client().post("/_test/enqueue", headers={"X-Request-Id": "checkout-42"}).get_json()["task_id"]
        )
        answer = seen(task_id)
    assert answer == {"app_context": True, "app": "blasto.app", "request_id": "checkout-42"}


@pytest.mark.slow  # a large data set, or a real Celery worker: out of `--fast`
def test_a_task_sent_outside_a_request_logs_under_its_task_id(app):
    celery = app.extensions["celery"]
    with start_worker(celery, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        result = context_probe.apply_async()
        answer = seen(result.id)
    assert answer["request_id"] == f"task-{result.id}"


def test_round_trip_on_real_redis_without_a_result_backend(migrated_app_factory, redis_url, tmp_path):
    from blasto.core.config import celery_config

    app = migrated_app_factory(CELERY=celery_config(redis_url, tmp_path, {}), READY_TIMEOUT_SECONDS=10)
    run_every_sweep(app)  # readiness also asks that the clock's sweeps ran
    age_heartbeat(app, HEARTBEAT_TASK, 3600)
    celery = app.extensions["celery"]
    assert "result_backend" not in app.config["CELERY"], "nothing reads a task's result"
    with start_worker(celery, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert seen(context_probe.apply_async().id)["app_context"] is True
        celery.send_task(HEARTBEAT_TASK)
        wait_for(lambda: app.test_client().get("/readyz").status_code == 200, 20, what="the heartbeat through Redis")


def test_the_embedded_clock_gives_redbeats_start_handler_no_lock_to_take(app):
    """sentry-sdk imports redbeat, whose beat_init handler then runs for every clock (redbeat issue #342)."""
    from types import SimpleNamespace

    from celery import beat
    from redbeat.schedulers import acquire_distributed_beat_lock

    from blasto.core.celery_app import InMemoryScheduler

    celery = app.extensions["celery"]
    assert celery.conf.beat_scheduler == "blasto.core.celery_app:InMemoryScheduler"
    scheduler = InMemoryScheduler(app=celery, lazy=True)
    assert acquire_distributed_beat_lock(sender=SimpleNamespace(scheduler=scheduler)) is None
    with pytest.raises(AttributeError):  # what the plain scheduler gets
        acquire_distributed_beat_lock(sender=SimpleNamespace(scheduler=beat.Scheduler(app=celery, lazy=True)))
