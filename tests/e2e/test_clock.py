"""The clock as Heroku runs it: the shop is not ready without it, and two clocks schedule once.

web, worker and clock are the Procfile's own command lines, each its own
process group (so one clock can be stopped or SIGKILLed alone), on a fresh
Postgres database and the tests' Redis. Every wait is on a condition with a
deadline.
"""

from __future__ import annotations

import json
import re

import pytest
import requests
from sqlalchemy import create_engine, text

from blasto.core.config import BEAT_LOCK_TIMEOUT_SECONDS, BEAT_MAX_LOOP_SECONDS, database_uri
from tests.support.processes import free_port, production_env, run_command, wait_for
from tests.support.procfile_processes import ProcfileProcess

pytestmark = pytest.mark.processes

ACQUIRED = "beat: Acquired lock"
SENDS = re.compile(r"Sending due task outbox-sweep")
WORKER_RUNS = re.compile(r"Task blasto\.outbox\.sweep\[[0-9a-f-]+\] succeeded")
# A killed clock keeps the lock until it expires; the waiting one polls once per loop.
TAKEOVER_SECONDS = BEAT_LOCK_TIMEOUT_SECONDS + BEAT_MAX_LOOP_SECONDS + 30  # plus room for a loaded machine


@pytest.fixture
def env(migrated_postgres, redis_url):
    settings = production_env(
        DATABASE_URL=migrated_postgres,
        REDIS_URL=redis_url,
        WORKER_CONCURRENCY="1",
        LOG_LEVEL="INFO",
    )
    return settings


def readyz(base: str) -> tuple[int | None, dict | None]:
    try:
        response = requests.get(f"{base}/readyz", timeout=15)
    except requests.RequestException:
        return None, None
    return response.status_code, response.json()


def outbox_heartbeat(database_url: str):
    engine = create_engine(database_uri(database_url, None))
    try:
        with engine.connect() as connection:
            query = text("SELECT ran_at FROM sweep_heartbeats WHERE task = 'blasto.outbox.sweep'")
            return connection.execute(query).scalar()
    finally:
        engine.dispose()


def sends(clock: ProcfileProcess) -> int:
    return len(SENDS.findall(clock.output()))


def test_without_the_clock_the_formation_is_never_ready_and_is_once_it_starts(processes, env):
    port = free_port()
    processes.start("web", {**env, "PORT": str(port)})
    processes.start("worker", env)
    base = f"http://127.0.0.1:{port}"

    def answered():
        status, body = readyz(base)
        return body if status == 503 and body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"] else None

    body = wait_for(answered, 60, interval=0.2, what="web to answer /readyz")
    assert body["failed"] == ["sweeps", "worker"], body  # the clock sends the heartbeat too
    assert body["checks"]["sweeps"]["error"].startswith(
        "outbox-sweep never ran; reports-sweep never ran; orders-sweep never ran; refunds-sweep never ran; "
        "card-payments-sweep never ran: "
        "is the clock process running (heroku ps:scale clock=1)?"
    )
    assert "if the sweeps are late too, start with the clock" in body["checks"]["worker"]["error"]

    processes.start("clock", env)
    body = wait_for(
        lambda: (lambda status, body: body if status == 200 else None)(*readyz(base)),
        90,
        interval=0.2,
        what="/readyz = 200 once the clock runs",
    )
    assert body["failed"] == [] and body["checks"]["sweeps"]["ok"]
    assert processes["clock"].output().count(ACQUIRED) == 1


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGKILL"])
def test_two_clocks_schedule_once_and_the_waiting_one_takes_over_when_the_first_stops(
    processes,
    env,
    migrated_postgres,
    stop,
):
    fast = {
        **env,
        "OUTBOX_SWEEP_EVERY_SECONDS": "1",
        "REPORT_SWEEP_EVERY_SECONDS": "1",
        "ORDER_SWEEP_EVERY_SECONDS": "1",
    }
    worker = processes.start("worker", fast)
    clocks = [processes.start("clock", fast, label=f"clock.{n}") for n in (1, 2)]

    active = wait_for(
        lambda: next((clock for clock in clocks if ACQUIRED in clock.output()), None),
        60,
        what="one clock to take the lock",
    )
    waiting = next(clock for clock in clocks if clock is not active)
    wait_for(lambda: sends(active) >= 5, 60, what="five outbox sweeps sent by the clock holding the lock")
    wait_for(lambda: len(WORKER_RUNS.findall(worker.output())) >= 3, 60, what="the worker to run three of them")
    ran = len(WORKER_RUNS.findall(worker.output()))
    assert sends(active) >= ran, "every sweep the worker ran was sent by the clock holding the lock"
    assert waiting.running and ACQUIRED not in waiting.output() and sends(waiting) == 0, waiting.output()[-3000:]
    before = outbox_heartbeat(migrated_postgres)
    assert before is not None

    if stop == "SIGTERM":  # a restart or a scale-down: the lock is released on the way out
        active.terminate()
        assert "beat: Releasing lock" in active.output()
    else:  # a crashed dyno: the lock stays until it expires
        active.kill()
    stopped_at = sends(active)

    wait_for(lambda: ACQUIRED in waiting.output(), TAKEOVER_SECONDS, what="the waiting clock to take the lock")
    wait_for(lambda: sends(waiting) >= 3, 60, what="the new clock to send sweeps")
    wait_for(
        lambda: outbox_heartbeat(migrated_postgres) > before, 60, what="the worker to run a sweep the new clock sent"
    )
    assert sends(active) == stopped_at and waiting.running


def test_a_clock_started_while_redis_is_away_waits_for_it_instead_of_crashing(processes, env, redis_proxy):
    """On Heroku a crash-looping dyno is restarted ever more slowly; a waiting clock is back as soon as Redis is."""
    redis_proxy.down()  # nothing answers at the clock's Redis address yet
    clock = processes.start("clock", {**env, "REDIS_URL": redis_proxy.url})
    clock.wait_for_output(r"Retrying Redis connection", 60)
    assert clock.running
    redis_proxy.up()
    clock.wait_for_output(ACQUIRED, 90)
    clock.wait_for_output(r"Sending due task outbox-sweep", 60)
    assert clock.output().count("beat: Starting") == 1, "the same process, never restarted"


def test_a_dead_worker_fails_readyz_and_flask_ready_until_one_runs_again(processes, env):
    """The clock sends the heartbeat every WORKER_HEARTBEAT_SECONDS; with no worker to run it, its age grows."""
    fast = {**env, "WORKER_HEARTBEAT_SECONDS": "1"}  # the sweeps keep their periods: stale only 30 s and more after
    port = free_port()
    processes.start("web", {**fast, "PORT": str(port)})
    worker = processes.start("worker", fast)
    processes.start("clock", fast)
    base = f"http://127.0.0.1:{port}"
    body = wait_for(
        lambda: (lambda status, body: body if status == 200 else None)(*readyz(base)),
        90,
        interval=0.2,
        what="/readyz = 200",
    )
    assert body["checks"]["worker"]["every_seconds"] == 1.0

    worker.kill()  # a crashed dyno: no goodbye
    body = wait_for(
        lambda: (lambda status, body: body if status == 503 else None)(*readyz(base)),
        30,
        interval=0.2,
        what="/readyz = 503 once the heartbeat is three periods old",
    )
    assert "worker" in body["failed"] and {"database", "broker"}.isdisjoint(body["failed"]), body
    assert body["checks"]["worker"]["error"].startswith("no worker has run the heartbeat for ")
    ready = run_command("flask --app blasto ready", fast)
    assert ready.returncode == 1, ready.stdout + ready.stderr
    checks = json.loads(ready.stdout)["checks"]
    assert not checks["worker"]["ok"] and checks["database"]["ok"] and checks["broker"]["ok"]

    worker.start()  # the platform starts it again
    wait_for(lambda: readyz(base)[0] == 200, 90, interval=0.2, what="/readyz = 200 with the worker back")
    assert run_command("flask --app blasto ready", fast).returncode == 0
