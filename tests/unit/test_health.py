"""Readiness: each part reported by name; a real worker makes it 200."""
from celery.contrib.testing.worker import start_worker

from blasto.config import celery_config


def readyz(app):
    response = app.test_client().get("/readyz")
    return response.status_code, response.get_json()


def test_ready_when_database_broker_and_a_worker_answer(app):
    with start_worker(app.extensions["celery"], pool="solo", perform_ping_check=False, shutdown_timeout=10):
        app.config["READY_TIMEOUT_SECONDS"] = 10
        status, body = readyz(app)
    assert status == 200, body
    assert body["status"] == "ready" and body["failed"] == []
    assert body["checks"]["worker"]["worker"]


def test_no_worker_is_a_503_naming_the_worker(app):
    status, body = readyz(app)
    assert status == 503
    assert body["failed"] == ["worker"]
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]
    assert "no worker answered" in body["checks"]["worker"]["error"]


def test_unreachable_database_is_a_503_without_connection_details(app_factory):
    app = app_factory(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://blasto:pw@127.0.0.1:1/none")
    status, body = readyz(app)
    assert status == 503 and "database" in body["failed"]
    assert body["checks"]["database"]["error"] == "database unreachable"
    assert "127.0.0.1" not in str(body) and "pw" not in str(body)


def test_unreachable_broker_is_a_503_quickly(app_factory, tmp_path):
    celery = celery_config("redis://127.0.0.1:1/0", tmp_path, {})
    app = app_factory(CELERY=celery)
    status, body = readyz(app)
    assert status == 503
    assert body["failed"] == ["broker", "worker"]
    assert body["checks"]["broker"]["error"] == "broker unreachable"
    assert body["checks"]["broker"]["ms"] < 1_000, "answered within the readiness budget"


def test_ready_command_reports_the_same_checks(app):
    result = app.test_cli_runner().invoke(args=["ready"])
    assert result.exit_code == 1 and '"worker"' in result.output
