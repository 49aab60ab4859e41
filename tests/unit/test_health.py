"""Readiness: each part reported by name; a worker's fresh heartbeat and fresh sweeps make it 200; the queue figures inform."""

import gc

import pytest
from celery.contrib.testing.worker import start_worker

from blasto.core.config import HEARTBEAT_TASK, celery_config
from blasto.health.checks import STALE_AFTER_PERIODS
from blasto.models.outbox import SENT
from blasto.outbox.backlog import backlog
from tests.support.factories import owe_lost_email
from tests.support.processes import wait_for
from tests.support.sweeps import age_heartbeat, run_every_sweep


def readyz(app):
    response = app.test_client().get("/readyz")
    return response.status_code, response.get_json()


def swept(app):
    """An app whose sweeps just ran, as if its clock were running."""
    run_every_sweep(app)
    return app


@pytest.mark.slow  # a large data set, or a real Celery worker: out of `--fast`
def test_ready_once_a_real_worker_runs_the_heartbeat_the_clock_sends(migrated_app_factory):
    app = swept(migrated_app_factory())
    age_heartbeat(app, HEARTBEAT_TASK, 3600)  # as if no worker had run it for an hour
    assert readyz(app)[1]["failed"] == ["worker"]
    celery = app.extensions["celery"]
    with start_worker(celery, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        celery.send_task(HEARTBEAT_TASK)  # what the clock sends every WORKER_HEARTBEAT_SECONDS
        status, body = wait_for(
            lambda: (lambda answer: answer if answer[0] == 200 else None)(readyz(app)),
            20,
            what="the worker to stamp the heartbeat",
        )
    assert body["status"] == "ready" and body["failed"] == []
    assert set(body["checks"]) == {"database", "broker", "worker", "sweeps"}
    worker = body["checks"]["worker"]
    assert worker["ok"] and worker["every_seconds"] == 10.0 and 0 <= worker["age_seconds"] < 10
    assert body["queue"] == {"name": "blasto", "depth": 0, "pending_emails": 0, "oldest_pending_email_seconds": 0.0}


def test_a_stale_heartbeat_is_a_503_naming_the_worker_and_its_age(migrated_app_factory):
    app = swept(migrated_app_factory())
    age_heartbeat(app, HEARTBEAT_TASK, STALE_AFTER_PERIODS * 10 + 5)
    status, body = readyz(app)
    assert status == 503 and body["failed"] == ["worker"]
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"] and body["checks"]["sweeps"]["ok"]
    worker = body["checks"]["worker"]
    assert not worker["ok"] and worker["age_seconds"] >= 35
    assert worker["error"].startswith(
        f"no worker has run the heartbeat for {worker['age_seconds']:g} s (it is sent every 10 s): "
    )
    assert "heroku ps:scale worker=1" in worker["error"]


def test_a_heartbeat_that_never_ran_is_a_503_naming_the_worker(migrated_app_factory):
    app = migrated_app_factory()
    run_every_sweep(app, but=(HEARTBEAT_TASK,))  # the clock's sweeps ran; no worker ever ran the heartbeat
    status, body = readyz(app)
    assert status == 503 and body["failed"] == ["worker"]
    assert body["checks"]["worker"]["age_seconds"] is None
    assert body["checks"]["worker"]["error"].startswith("no worker has run the heartbeat yet (it is sent every 10 s): ")


def test_unreachable_database_is_a_503_without_connection_details(app_factory):
    app = app_factory(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://blasto:pw@127.0.0.1:1/none")
    status, body = readyz(app)
    assert status == 503 and "database" in body["failed"]
    assert body["checks"]["database"]["error"] == "database unreachable"
    assert body["queue"]["pending_emails"] is None and body["queue"]["oldest_pending_email_seconds"] is None
    assert "127.0.0.1" not in str(body) and "pw" not in str(body)


def test_unreachable_broker_is_a_503_quickly(migrated_app_factory, tmp_path):
    celery = celery_config("redis://127.0.0.1:1/0", tmp_path, {})
    app = swept(migrated_app_factory(CELERY=celery))
    status, body = readyz(app)
    assert status == 503
    assert body["failed"] == ["broker"], "the heartbeat a worker stamped a moment ago is still fresh"
    assert body["checks"]["broker"]["error"] == "broker unreachable"
    assert body["checks"]["broker"]["ms"] < 1_000, "answered within the readiness budget"
    assert body["queue"]["depth"] is None, "not measured on a broker known to be down"


def test_ready_command_reports_the_same_checks(app):
    result = app.test_cli_runner().invoke(args=["ready"])
    assert result.exit_code == 1
    assert all(f'"{part}"' in result.output for part in ("worker", "sweeps", "queue"))


def test_queue_figures_count_the_waiting_tasks_and_the_oldest_pending_email(migrated_app_factory):
    app = migrated_app_factory()
    celery = app.extensions["celery"]
    for _n in range(3):
        celery.send_task(HEARTBEAT_TASK)  # nobody takes them
    owe_lost_email(app, 3600)
    owe_lost_email(app, 60, key="welcome:2")
    owe_lost_email(app, 7200, state=SENT, key="welcome:3")  # sent: not owed any more
    with app.app_context():
        figures = backlog(celery, 2.0)
    assert figures["name"] == "blasto" and figures["depth"] == 3 and figures["pending_emails"] == 2
    assert 3600 <= figures["oldest_pending_email_seconds"] < 3600 + 600


def test_probing_the_embedded_broker_again_and_again_keeps_no_connection(migrated_app_factory):
    app = migrated_app_factory()
    celery = app.extensions["celery"]
    celery.send_task(HEARTBEAT_TASK)
    gc.disable()  # as in a busy web process, where kombu's connection cycles wait for the collector
    try:
        with app.app_context():
            # More probes than the broker database's pool holds (5 + 10 overflow): each gives its connection back.
            depths = {backlog(celery, 2.0)["depth"] for _ in range(20)}
    finally:
        gc.enable()
    assert depths == {1}


def test_on_redis_the_depth_is_the_queue_list_and_figures_never_fail_readiness(
    migrated_app_factory, redis_url, tmp_path
):
    app = swept(migrated_app_factory(CELERY=celery_config(redis_url, tmp_path, {}), READY_TIMEOUT_SECONDS=10))
    celery = app.extensions["celery"]
    for _n in range(3):
        celery.send_task(HEARTBEAT_TASK)
    with app.app_context():
        assert backlog(celery, 2.0)["depth"] == 3
    owe_lost_email(app, 3600)  # an e-mail owed for an hour: worth a look, not a reason to take the dyno out

    with start_worker(celery, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        status, body = readyz(app)
        assert status == 200, body
        assert body["queue"]["pending_emails"] == 1 and body["queue"]["oldest_pending_email_seconds"] >= 3600
        wait_for(lambda: readyz(app)[1]["queue"]["depth"] == 0, 20, what="the worker to drain the queue")
