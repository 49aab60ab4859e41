"""StatsD metrics from the real web, worker and clock processes, caught by a UDP socket of the test's own.

web, worker and clock are the Procfile's command lines on a fresh Postgres
database and the tests' Redis database. With STATSD_HOST, gunicorn sends its
request metrics, the worker its per-task ones and, from the outbox sweep, the
backlog gauges; without it (STATSD_PORT and STATSD_PREFIX still set, pointing
at the socket), nothing arrives.
"""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from tests.support.processes import free_port, production_env, wait_for
from tests.support.procfile_processes import ProcessSet
from tests.support.udp_listener import received, udp_listener

pytestmark = pytest.mark.processes

BURST = 20
HEARTBEAT = "blasto.celery.task.blasto_health_heartbeat"


@pytest.fixture
def listener():
    with udp_listener() as sock:
        yield sock


@pytest.fixture
def start(tmp_path, migrated_postgres, redis_url):
    """Start web, worker and clock with extra settings; returns the base URL and the processes."""
    with ProcessSet(tmp_path / "logs") as processes:
        env = production_env(
            DATABASE_URL=migrated_postgres,
            REDIS_URL=redis_url,
            WORKER_CONCURRENCY="1",
            LOG_LEVEL="INFO",
        )

        def run(**settings: str) -> tuple[str, ProcessSet]:
            port = free_port()
            processes.start("web", {**env, **settings, "PORT": str(port)})
            processes.start("worker", {**env, **settings})
            processes.start("clock", {**env, **settings})
            base = f"http://127.0.0.1:{port}"
            # Polled gently: each poll's datagrams wait unread in the listener's buffer, which must not fill up.
            wait_for(lambda: _status(base + "/readyz") == 200, 60, interval=1.0, what="/readyz = 200")
            return base, processes

        yield run


def _status(url: str, **kwargs) -> int | None:
    try:
        return requests.get(url, timeout=10, **kwargs).status_code
    except requests.RequestException:
        return None


def burst(base: str) -> list[str]:
    """BURST answered requests, half of them pages that read the database; returns their request ids."""
    ids = []
    with requests.Session() as session:
        for n in range(BURST):
            request_id = f"burst-{uuid.uuid4().hex[:12]}"
            response = session.get(
                f"{base}/{'home' if n % 2 else 'healthz'}", headers={"X-Request-Id": request_id}, timeout=10
            )
            assert response.status_code == 200
            ids.append(request_id)
    return ids


def test_with_statsd_host_gunicorn_and_the_worker_send_their_metrics(start, listener):
    base, processes = start(STATSD_HOST="127.0.0.1", STATSD_PORT=str(listener.getsockname()[1]))  # default prefix
    lines: list[str] = []

    def count(pattern: str) -> int:
        lines.extend(received(listener))
        return sum(1 for line in lines if re.fullmatch(pattern, line))

    burst(base)
    # Waiting on the 200s: the /readyz polls before the burst (503s until the sweeps ran) count as requests too.
    wait_for(
        lambda: count(r"blasto\.gunicorn\.request\.status\.200:1\|c\|@1\.0") >= BURST,
        10,
        what=f"{BURST} status.200 counters",
    )
    assert count(r"blasto\.gunicorn\.requests:1\|c\|@1\.0") >= BURST
    assert count(r"blasto\.gunicorn\.request\.duration:\d+(\.\d+)?\|ms") >= BURST

    # The clock sends the worker's heartbeat through Redis every period (it did at start too).
    wait_for(lambda: count(rf"{HEARTBEAT}\.succeeded:1\|c") >= 2, 30, what="the heartbeat task's success counter")
    assert count(rf"{HEARTBEAT}\.started:1\|c") >= 2
    assert count(rf"{HEARTBEAT}\.runtime:\d+(\.\d+)?\|ms") >= 1
    assert count(rf"{HEARTBEAT}\.failed:1\|c") == 0

    # The backlog, gauged by the outbox sweep (it ran at least once: /readyz needs its heartbeat).
    wait_for(lambda: count(r"blasto\.celery\.queue\.blasto\.depth:\d+\|g") >= 1, 30, what="the queue depth gauge")
    assert count(r"blasto\.outbox\.pending:0\|g") >= 1, "no e-mail is owed"
    assert count(r"blasto\.outbox\.oldest_pending_seconds:0(\.0)?\|g") >= 1


def test_without_statsd_host_nothing_is_sent(start, listener):
    base, processes = start(STATSD_PORT=str(listener.getsockname()[1]), STATSD_PREFIX="blasto")
    ids = burst(base)
    # The work is done: gunicorn logged every request (it would send their
    # metrics right after), and the worker has finished a heartbeat task whole,
    # signals included (one process: the second heartbeat ran after the first).
    web = processes["web"]
    wait_for(
        lambda: all(f"request_id={request_id} " in web.output() for request_id in ids),
        10,
        what="the burst's access lines",
    )
    assert _status(base + "/readyz") == 200
    heartbeats = re.compile(r"Task blasto\.health\.heartbeat\[[0-9a-f-]+\] succeeded")
    wait_for(lambda: len(heartbeats.findall(processes["worker"].output())) >= 2, 30, what="two heartbeats run")
    assert received(listener) == []
