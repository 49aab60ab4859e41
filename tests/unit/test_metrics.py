"""StatsD settings, and the worker's per-task metrics arriving at a real UDP socket.

Tasks run in this process (`apply()`), where Celery sends the same signals a
worker does; the end-to-end tests (tests/e2e/test_metrics.py) use the real
web and worker processes.
"""

from __future__ import annotations

import gc
import re
import runpy
import subprocess
import sys

import pytest

from blasto.core.config import statsd_config
from blasto.core.env import ConfigError
from blasto.core.metrics import metric_name
from tests.support.factories import owe_lost_email
from tests.support.processes import ROOT, process_env, wait_for
from tests.support.sweeps import run_outbox_sweep
from tests.support.udp_listener import received, udp_listener


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, None),
        ({"STATSD_PORT": "9999", "STATSD_PREFIX": "x"}, None),  # the host is the switch
        ({"STATSD_HOST": "statsd.internal"}, {"host": "statsd.internal", "port": 8125, "prefix": "blasto"}),
        (
            {"STATSD_HOST": " 10.0.0.5 ", "STATSD_PORT": "8200", "STATSD_PREFIX": "shop.prod"},
            {"host": "10.0.0.5", "port": 8200, "prefix": "shop.prod"},
        ),
        ({"STATSD_HOST": "[::1]", "STATSD_PREFIX": ""}, {"host": "::1", "port": 8125, "prefix": "blasto"}),
    ],
)
def test_statsd_settings(env, expected):
    assert statsd_config(env) == expected


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"STATSD_HOST": "http://statsd:8125"}, "STATSD_HOST"),
        ({"STATSD_HOST": "statsd", "STATSD_PORT": "70000"}, "STATSD_PORT"),
        ({"STATSD_HOST": "statsd", "STATSD_PORT": "udp"}, "STATSD_PORT"),
        ({"STATSD_HOST": "statsd", "STATSD_PREFIX": "my shop"}, "STATSD_PREFIX"),
        ({"STATSD_HOST": "statsd", "STATSD_PREFIX": "blasto..web"}, "STATSD_PREFIX"),
    ],
)
def test_bad_statsd_settings_name_the_variable(env, variable):
    with pytest.raises(ConfigError) as error:
        statsd_config(env)
    assert error.value.variable == variable


def gunicorn_settings(monkeypatch, **env) -> dict:
    for name in ("STATSD_HOST", "STATSD_PORT", "STATSD_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    collecting = gc.isenabled()
    try:
        return runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        if collecting:  # the file turns collection off for gunicorn's master (its gc.freeze recipe), not for the suite
            gc.enable()


def test_gunicorn_statsd_follows_statsd_host(monkeypatch):
    on = gunicorn_settings(monkeypatch, STATSD_HOST="127.0.0.1", STATSD_PORT="9125", STATSD_PREFIX="shop")
    assert (on["statsd_host"], on["statsd_prefix"], on["dogstatsd_tags"]) == ("127.0.0.1:9125", "shop", "")
    assert gunicorn_settings(monkeypatch, STATSD_HOST="::1")["statsd_host"] == "[::1]:8125"
    off = gunicorn_settings(monkeypatch, STATSD_PORT="9125", STATSD_PREFIX="shop")
    assert "statsd_host" not in off  # gunicorn's default: no StatsD logger, nothing sent


def test_graceful_timeout_is_explicit_and_inside_herokus_30_seconds(monkeypatch):
    settings = gunicorn_settings(monkeypatch)
    assert settings["graceful_timeout"] <= 20 and settings["timeout"] < 30


@pytest.fixture
def listener():
    with udp_listener() as sock:
        yield sock


def test_task_runs_send_counters_and_a_timer_per_task_name(app_factory, listener):
    app = app_factory(STATSD={"host": "127.0.0.1", "port": listener.getsockname()[1], "prefix": "shop"})
    celery = app.extensions["celery"]

    @celery.task(name="tests.metrics.fine")
    def fine():
        return "ok"

    @celery.task(name="tests.metrics.broken")
    def broken():
        raise ValueError("on purpose")

    @celery.task(name="tests.metrics.flaky", bind=True, max_retries=1, default_retry_delay=0)
    def flaky(self):
        if self.request.retries == 0:
            raise self.retry()
        return "second time"

    fine.apply()
    fine.apply()
    broken.apply()
    assert flaky.apply().get() == "second time"

    lines = []
    wait_for(
        lambda: (
            lines.extend(received(listener))
            or sum(line.startswith("shop.celery.task.tests_metrics_") for line in lines) >= 13
        ),
        5,
        what="13 metrics",
    )
    counters = [line for line in lines if line.endswith("|c")]
    assert sorted(counters) == sorted(
        ["shop.celery.task.tests_metrics_fine.started:1|c"] * 2
        + ["shop.celery.task.tests_metrics_fine.succeeded:1|c"] * 2
        + ["shop.celery.task.tests_metrics_broken.started:1|c", "shop.celery.task.tests_metrics_broken.failed:1|c"]
        + ["shop.celery.task.tests_metrics_flaky.started:1|c"] * 2
        + ["shop.celery.task.tests_metrics_flaky.retried:1|c", "shop.celery.task.tests_metrics_flaky.succeeded:1|c"]
    )
    timers = [line for line in lines if line.endswith("|ms")]
    assert len(timers) == 5 and all(
        re.fullmatch(r"shop\.celery\.task\.tests_metrics_(fine|broken|flaky)\.runtime:\d+(\.\d+)?\|ms", t)
        for t in timers
    ), timers


def test_metric_names_keep_one_node_per_task():
    assert metric_name("blasto.health.heartbeat", "started") == "celery.task.blasto_health_heartbeat.started"
    assert metric_name("odd name/with:stuff", "runtime") == "celery.task.odd_name_with_stuff.runtime"


@pytest.mark.processes
def test_without_statsd_host_nothing_is_imported_or_connected(tmp_path):
    """A fresh interpreter (this one has connected the receivers): build the app, run a task."""
    code = (
        "import sys\n"
        "from blasto import create_app\n"
        "from blasto.core.config import celery_config\n"
        f"app = create_app({{'SQLALCHEMY_DATABASE_URI': 'sqlite:///{tmp_path}/db.sqlite3', 'CELERY': celery_config(None, __import__('pathlib').Path({str(tmp_path)!r}), {{}})}})\n"
        "from blasto.core.extensions import db\n"
        "from blasto.health.tasks import heartbeat\n"
        "with app.app_context(): db.create_all()\n"
        "heartbeat.apply().get()\n"
        "assert app.config['STATSD'] is None\n"
        "from celery import signals\n"
        "receivers = [key[0] for key, _ in signals.task_prerun.receivers if str(key[0]).startswith('blasto.metrics')]\n"
        "print(sorted(name for name in sys.modules if name == 'statsd') + receivers)\n"
    )
    env = process_env(BLASTO_ENV="test", STATSD_HOST=None, STATSD_PORT="8125", STATSD_PREFIX="blasto")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_outbox_sweep_sends_the_backlog_as_gauges(migrated_app_factory, listener):
    app = migrated_app_factory(STATSD={"host": "127.0.0.1", "port": listener.getsockname()[1], "prefix": "shop"})
    celery = app.extensions["celery"]
    for _n in range(2):
        celery.send_task("blasto.health.heartbeat")
    owe_lost_email(app, 3600)

    assert run_outbox_sweep(app) == 0, "the row is not due: the sweep queues nothing"

    lines = []
    wait_for(
        lambda: lines.extend(received(listener)) or sum(line.endswith("|g") for line in lines) >= 3, 5, what="3 gauges"
    )
    gauges = dict(line[: -len("|g")].rsplit(":", 1) for line in lines if line.endswith("|g"))
    assert set(gauges) == {
        "shop.celery.queue.blasto.depth",
        "shop.outbox.pending",
        "shop.outbox.oldest_pending_seconds",
    }
    assert gauges["shop.celery.queue.blasto.depth"] == "2" and gauges["shop.outbox.pending"] == "1"
    assert 3600 <= float(gauges["shop.outbox.oldest_pending_seconds"]) < 3600 + 600
