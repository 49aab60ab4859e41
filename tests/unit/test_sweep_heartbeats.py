"""The clock's heartbeat: each sweep stamps sweep_heartbeats, and /readyz fails when one never ran or ran too long ago.

On SQLite and Postgres, with the app's test client and a fresh worker
heartbeat, so that only the sweeps can fail.
"""

from __future__ import annotations

import json

import pytest

from blasto.core.config import HEARTBEAT_TASK, engine_options
from blasto.core.mail_settings import HOLD, MailSettings
from blasto.health.checks import STALE_AFTER_PERIODS
from blasto.models.base import utcnow
from blasto.shop.card_refunds import SWEEP_TASK as REFUNDS_SWEEP
from tests.support.sweeps import (
    CARD_SWEEP,
    ORDERS_SWEEP,
    OUTBOX_SWEEP,
    REPORTS_SWEEP,
    age_heartbeat,
    heartbeat,
    run_every_sweep,
)

OUTBOX_EVERY = 10.0  # OUTBOX_SWEEP_EVERY_SECONDS's default, which the test apps keep


@pytest.fixture
def ready_app(database, make_app):
    """An app on a migrated database (SQLite or Postgres) whose worker has just stamped its heartbeat."""
    app = make_app(database, READY_TIMEOUT_SECONDS=10)
    assert app.config["CELERY"]["beat_schedule"]["outbox-sweep"]["schedule"] == OUTBOX_EVERY
    run(app, HEARTBEAT_TASK)
    return app


def readyz(app) -> tuple[int, dict]:
    response = app.test_client().get("/readyz")
    return response.status_code, response.get_json()


def run(app, task: str):
    """Run `task` in this process, as a worker would: the worker imports the task modules first."""
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()
    return celery.tasks[task].apply().get()


def test_fresh_heartbeats_are_ready(ready_app):
    run_every_sweep(ready_app)
    status, body = readyz(ready_app)
    assert status == 200, body
    sweeps = body["checks"]["sweeps"]
    assert sweeps["ok"] and "error" not in sweeps
    assert set(sweeps["sweeps"]) == {
        "outbox-sweep",
        "reports-sweep",
        "orders-sweep",
        "refunds-sweep",
        "card-payments-sweep",
    }
    outbox = sweeps["sweeps"]["outbox-sweep"]
    assert outbox["ok"] and outbox["every_seconds"] == OUTBOX_EVERY and 0 <= outbox["age_seconds"] < OUTBOX_EVERY


def test_a_sweep_that_never_ran_is_a_503_naming_it_and_the_clock(ready_app):
    run(ready_app, OUTBOX_SWEEP)
    run(ready_app, ORDERS_SWEEP)
    run(ready_app, REFUNDS_SWEEP)
    run(ready_app, CARD_SWEEP)  # the reports sweep never ran
    status, body = readyz(ready_app)
    assert status == 503 and body["status"] == "unavailable" and body["failed"] == ["sweeps"]
    sweeps = body["checks"]["sweeps"]
    assert sweeps["sweeps"]["reports-sweep"] == {"ok": False, "every_seconds": 15.0, "age_seconds": None}
    assert sweeps["sweeps"]["outbox-sweep"]["ok"]
    assert sweeps["error"].startswith(
        "reports-sweep never ran: is the clock process running (heroku ps:scale clock=1)?"
    )
    assert "outbox-sweep" not in sweeps["error"]


def test_a_heartbeat_older_than_three_periods_is_a_503_naming_the_sweep_and_its_age(ready_app):
    run_every_sweep(ready_app)
    age_heartbeat(ready_app, OUTBOX_SWEEP, STALE_AFTER_PERIODS * OUTBOX_EVERY + 5)
    status, body = readyz(ready_app)
    assert status == 503 and body["failed"] == ["sweeps"]
    outbox = body["checks"]["sweeps"]["sweeps"]["outbox-sweep"]
    assert not outbox["ok"] and outbox["age_seconds"] >= 35
    error = body["checks"]["sweeps"]["error"]
    assert error.startswith(f"outbox-sweep last ran {outbox['age_seconds']:g} s ago (every 10 s): ")
    assert "clock=1" in error

    age_heartbeat(ready_app, OUTBOX_SWEEP, STALE_AFTER_PERIODS * OUTBOX_EVERY - 5)  # late, but within three periods
    status, body = readyz(ready_app)
    assert status == 200, body


def test_a_new_run_makes_a_late_sweep_ready_again(ready_app):
    run_every_sweep(ready_app)
    age_heartbeat(ready_app, REPORTS_SWEEP, 3600)
    assert readyz(ready_app)[0] == 503
    run(ready_app, REPORTS_SWEEP)
    status, body = readyz(ready_app)
    assert status == 200 and body["checks"]["sweeps"]["sweeps"]["reports-sweep"]["age_seconds"] < 15


def test_the_outbox_sweep_stamps_its_heartbeat_while_mail_is_held(database, make_app):
    """Production without SMTP_URL sends nothing, but its clock runs: /readyz must not call it missing."""
    app = make_app(database, MAIL=MailSettings(mode=HOLD, sender="Blasto <shop@blasto.example>"))
    before = utcnow()
    assert run(app, OUTBOX_SWEEP) == 0
    assert heartbeat(app, OUTBOX_SWEEP) >= before
    assert heartbeat(app, REPORTS_SWEEP) is None


def test_each_run_moves_the_heartbeat_forward(database, make_app):
    app = make_app(database)
    run(app, REPORTS_SWEEP)
    first = heartbeat(app, REPORTS_SWEEP)
    age_heartbeat(app, REPORTS_SWEEP, 60)
    run(app, REPORTS_SWEEP)
    assert heartbeat(app, REPORTS_SWEEP) >= first


def test_flask_ready_names_the_missing_sweeps_and_exits_1(ready_app):
    result = ready_app.test_cli_runner().invoke(args=["ready"])
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert body["ready"] is False and not body["checks"]["sweeps"]["ok"]
    assert [body["checks"][part]["ok"] for part in ("database", "broker", "worker")] == [True, True, True]
    assert body["checks"]["sweeps"]["error"].startswith(
        "outbox-sweep never ran; reports-sweep never ran; orders-sweep never ran; refunds-sweep never ran; "
        "card-payments-sweep never ran: "
    )

    run_every_sweep(ready_app)
    result = ready_app.test_cli_runner().invoke(args=["ready"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ready"] is True


def test_an_unmigrated_database_fails_the_sweeps_with_a_hint(app_factory):
    status, body = readyz(app_factory())  # a SQLite file without the schema
    assert status == 503 and "sweeps" in body["failed"]
    assert body["checks"]["sweeps"]["error"] == "sweep heartbeats unreadable (are the migrations applied?)"
    assert "sweep_heartbeats" not in json.dumps(body), "the SQL stays in the log"


def test_a_database_outage_leaves_the_sweeps_unchecked(app_factory):
    uri = "postgresql+psycopg://blasto:pw@127.0.0.1:1/none"  # nothing listens on port 1
    status, body = readyz(app_factory(SQLALCHEMY_DATABASE_URI=uri, SQLALCHEMY_ENGINE_OPTIONS=engine_options(uri, 1)))
    assert status == 503 and {"database", "sweeps"} <= set(body["failed"])
    assert body["checks"]["sweeps"] == {"ok": False, "error": "not checked: database unreachable"}
