"""Readiness: each part reported by name; a real worker and fresh sweeps make it 200; the queue figures inform."""
from celery.contrib.testing.worker import start_worker

from blasto.core.config import celery_config
from blasto.outbox.backlog import backlog
from blasto.models.outbox import SENT
from tests.conftest import migrated
from tests.support.processes import wait_for
from tests.support.shop_data import owe_lost_email
from tests.support.sweeps import run_every_sweep


def readyz(app):
    response = app.test_client().get("/readyz")
    return response.status_code, response.get_json()


def swept(app):
    """A migrated app whose sweeps just ran, as if its clock were running."""
    run_every_sweep(migrated(app))
    return app


def test_ready_when_database_broker_a_worker_and_the_sweeps_answer(app_factory):
    app = swept(app_factory())
    with start_worker(app.extensions["celery"], pool="solo", perform_ping_check=False, shutdown_timeout=10):
        app.config["READY_TIMEOUT_SECONDS"] = 10
        status, body = readyz(app)
    assert status == 200, body
    assert body["status"] == "ready" and body["failed"] == []
    assert body["checks"]["worker"]["worker"]
    assert set(body["checks"]) == {"database", "broker", "worker", "sweeps"}
    assert body["queue"] == {"name": "blasto", "depth": 0, "pending_emails": 0, "oldest_pending_email_seconds": 0.0}


def test_no_worker_is_a_503_naming_the_worker(app_factory):
    status, body = readyz(swept(app_factory()))
    assert status == 503
    assert body["failed"] == ["worker"]
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"] and body["checks"]["sweeps"]["ok"]
    assert "no worker answered" in body["checks"]["worker"]["error"]


def test_unreachable_database_is_a_503_without_connection_details(app_factory):
    app = app_factory(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://blasto:pw@127.0.0.1:1/none")
    status, body = readyz(app)
    assert status == 503 and "database" in body["failed"]
    assert body["checks"]["database"]["error"] == "database unreachable"
    assert body["queue"]["pending_emails"] is None and body["queue"]["oldest_pending_email_seconds"] is None
    assert "127.0.0.1" not in str(body) and "pw" not in str(body)


def test_unreachable_broker_is_a_503_quickly(app_factory, tmp_path):
    celery = celery_config("redis://127.0.0.1:1/0", tmp_path, {})
    app = swept(app_factory(CELERY=celery))
    status, body = readyz(app)
    assert status == 503
    assert body["failed"] == ["broker", "worker"]
    assert body["checks"]["broker"]["error"] == "broker unreachable"
    assert body["checks"]["broker"]["ms"] < 1_000, "answered within the readiness budget"
    assert body["queue"]["depth"] is None, "not measured on a broker known to be down"


def test_ready_command_reports_the_same_checks(app):
    result = app.test_cli_runner().invoke(args=["ready"])
    assert result.exit_code == 1
    assert all(f'"{part}"' in result.output for part in ("worker", "sweeps", "queue"))


def owe_old_email(app, age_seconds: float, **row) -> None:
    with app.app_context():
        owe_lost_email(age_seconds, **row)


def test_queue_figures_count_the_waiting_tasks_and_the_oldest_pending_email(app_factory):
    app = migrated(app_factory())
    celery = app.extensions["celery"]
    for n in range(3):
        celery.send_task("blasto.health.ping", args=[f"nobody takes {n}"])
    owe_old_email(app, 3600)
    owe_old_email(app, 60, key="welcome:2")
    owe_old_email(app, 7200, state=SENT, key="welcome:3")  # sent: not owed any more
    with app.app_context():
        figures = backlog(celery, 2.0)
    assert figures["name"] == "blasto" and figures["depth"] == 3 and figures["pending_emails"] == 2
    assert 3600 <= figures["oldest_pending_email_seconds"] < 3600 + 600


def test_on_redis_the_depth_is_the_queue_list_and_figures_never_fail_readiness(app_factory, redis_url, tmp_path):
    app = swept(app_factory(CELERY=celery_config(redis_url, tmp_path, {}), READY_TIMEOUT_SECONDS=10))
    celery = app.extensions["celery"]
    for n in range(3):
        celery.send_task("blasto.health.ping", args=[f"waiting {n}"])
    with app.app_context():
        assert backlog(celery, 2.0)["depth"] == 3
    owe_old_email(app, 3600)  # an e-mail owed for an hour: worth a look, not a reason to take the dyno out

    with start_worker(celery, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        status, body = readyz(app)
        assert status == 200, body
        assert body["queue"]["pending_emails"] == 1 and body["queue"]["oldest_pending_email_seconds"] >= 3600
        wait_for(lambda: readyz(app)[1]["queue"]["depth"] == 0, 20, what="the worker to drain the queue")
