"""The Procfile's web, worker and clock as real processes under honcho.

1. On real Postgres and Redis, exactly as Heroku runs them (production mode).
2. On the embedded defaults in a fresh copy of the repository, with the plain
   `honcho start` a developer uses after `python3 dev.py start` wrote `.env`.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import uuid
from pathlib import Path

import pytest
import requests

from tests.support.migrations import head_revision
from tests.support.processes import ROOT, Stack, pid_alive, process_env, procfile, production_env, run_command, wait_for
from tests.support.receipts import MAIL_FROM
from tests.support.repository_files import repository_files
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.processes


def assert_stops_cleanly(stack: Stack) -> None:
    pids = stack.child_pids()
    assert pids, "honcho reported the processes it started"
    # Nothing hung: gunicorn kills a worker that outlives graceful_timeout and says so. honcho's own
    # kill, 5 s after its SIGTERM, is a local convenience (Heroku waits 30 s): on CI at load 9 the
    # gunicorn master took 7 s to reap its exiting workers. test_graceful_shutdown and test_receipts
    # hold web and worker to Heroku's 30 s. The deadline only bounds the wait.
    code = stack.stop(timeout=60)
    assert code in (0, 130, 143, -15), f"honcho exit code {code}:\n{stack.output()[-3000:]}"
    assert "was sent SIGKILL" not in stack.output(), stack.output()[-3000:]
    wait_for(lambda: not any(pid_alive(pid) for pid in pids), 10, what="every process to exit")
    assert "Traceback" not in stack.output(), stack.output()[-3000:]


LOGFMT_EVENT = re.compile(r"^(time=\S+ level=[a-z]+ logger=\S+ |at=info logger=gunicorn\.access request_id=\S+ )")


def assert_logfmt_only(output: str) -> None:
    """Every line web, worker and clock printed is one logfmt event."""
    ours = re.compile(r"^\S+ (web|worker|clock)\.\d+ +\| ")
    lines = [line.split(" | ", 1)[1] for line in output.splitlines() if ours.match(line)]
    assert lines, "the processes logged something"
    strays = [line for line in lines if not LOGFMT_EVENT.match(line)]
    assert strays == [], "\n".join(strays[:20])


def test_procfile_stack_on_postgres_and_redis(start_stack, postgres_database, redis_url, empty_env_file):
    with SmtpSink() as sink:
        env = production_env(
            DATABASE_URL=postgres_database, REDIS_URL=redis_url, SMTP_URL=sink.url, MAIL_FROM=MAIL_FROM
        )
        release = run_command(procfile()["release"], env)
        assert release.returncode == 0, release.stderr + release.stdout

        stack = start_stack(["start", "-f", "Procfile", "-e", str(empty_env_file), "web", "worker", "clock"], env)
        body = stack.wait_ready()  # the clock's first sweeps come one period after it starts
        assert body["status"] == "ready" and body["failed"] == []
        assert body["checks"]["worker"]["age_seconds"] is not None, "a worker process ran the heartbeat"

        # A sign-up owes a welcome e-mail: its request id follows it through Celery to the worker's lines.
        request_id = f"e2e-{uuid.uuid4().hex}"
        signup = {"email": f"{request_id}@example.com", "password": "a long enough passphrase", "name": "Stack"}
        signed_up = requests.post(
            f"http://127.0.0.1:{stack.port}/api/v1/users", json=signup, headers={"X-Request-Id": request_id}, timeout=15
        )
        assert signed_up.status_code == 201 and signed_up.headers["X-Request-Id"] == request_id, signed_up.text
        stack.wait_for_output(rf'worker\.1 .*request_id={request_id} msg="e-mail sent"')
        stack.wait_for_output(rf"web\.1 .*logger=gunicorn\.access request_id={request_id} .*status=201")
        wait_for(lambda: len(sink.received) == 1, 30, what="the welcome e-mail")

        status, _, raw = stack.get("/home")
        assert status == 200 and b"Welcome to Blasto" in raw
        status, headers, raw = stack.get("/api/v1/home")
        assert status == 200 and json.loads(raw)["version"] == "v1"
        status, headers, raw = stack.get("/api/v1/nope")
        assert status == 404 and json.loads(raw)["error"] == "not_found"
        assert_logfmt_only(stack.output())
        assert_stops_cleanly(stack)


def test_procfile_stack_on_tls_redis_with_a_self_signed_certificate(
    start_stack,
    postgres_database,
    redis_url,
    empty_env_file,
    tmp_path,
):
    """Heroku Key-Value Store: rediss:// for the broker and the clock's lock alike."""
    from tests.support.tls_redis import tls_redis

    with tls_redis(tmp_path, redis_url) as url:
        env = production_env(DATABASE_URL=postgres_database, REDIS_URL=url)
        release = run_command(procfile()["release"], env)  # the sweeps stamp their heartbeats in the schema
        assert release.returncode == 0, release.stderr + release.stdout
        stack = start_stack(["start", "-f", "Procfile", "-e", str(empty_env_file), "web", "worker", "clock"], env)
        body = stack.wait_ready()
        assert body["failed"] == [] and body["checks"]["worker"]["ok"] and body["checks"]["sweeps"]["ok"]
        stack.wait_for_output(r"clock\.1 .*beat: Acquired lock")  # RedBeat's lock, over TLS
        assert_stops_cleanly(stack)


def test_huge_and_malformed_requests_get_clear_4xx(start_stack, redis_url, postgres_database, empty_env_file):
    env = production_env(DATABASE_URL=postgres_database, REDIS_URL=redis_url)
    stack = start_stack(["start", "-f", "Procfile", "-e", str(empty_env_file), "web"], env)
    wait_for(lambda: _healthz(stack), 30, what="/healthz")
    status, _, body = stack.get("/home", headers={"X-Big": "x" * 20000})
    assert 400 <= status < 500 and b"Traceback" not in body
    status, _, body = stack.get("/home", headers={f"X-H{i}": "v" for i in range(150)})
    assert 400 <= status < 500 and b"Traceback" not in body
    status, _, body = raw_request(stack.port, "POST", "/api/v1/home", b"{oops", {"Content-Type": "application/json"})
    assert status == 405 and b'"error"' in body
    status, _, body = raw_request(stack.port, "GET", "/%ff%fe/%00")
    assert status == 404 and b"Traceback" not in body
    assert_stops_cleanly(stack)
    assert " 500 " not in stack.output() and "status=500" not in stack.output()


def _healthz(stack: Stack) -> bool:
    try:
        return stack.get("/healthz")[0] == 200
    except OSError:
        return False


def raw_request(port: int, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    """A request urllib would tidy up (odd bytes in the path); (status, headers, body)."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def fresh_copy(destination: Path) -> Path:
    """The files a clone would have (tracked, plus new files not ignored)."""
    for name in repository_files(ROOT):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def test_plain_honcho_start_on_embedded_defaults_in_a_fresh_clone(start_stack, tmp_path):
    import dev

    clone = fresh_copy(tmp_path / "clone")
    dev.write_dotenv(clone)  # what `python3 dev.py start` does on first use
    assert not (clone / "instance").exists()
    env = process_env(BLASTO_ENV=None, SECRET_KEY=None, DATABASE_URL=None, REDIS_URL=None)
    stack = start_stack(["start"], env, cwd=clone)
    body = stack.wait_ready()
    assert body["checks"]["worker"]["ok"] and body["checks"]["database"]["ok"]
    # Migrations ran against the SQLite file under the clone's instance/.
    with sqlite3.connect(clone / "instance" / "blasto.sqlite3") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]
    assert (clone / "instance" / "celery-broker.sqlite3").exists()
    status, _, page = stack.get("/home")
    assert status == 200 and b"Welcome to Blasto" in page
    assert "BLASTO_ENV" in (clone / ".env").read_text()
    assert_logfmt_only(stack.output())
    assert_stops_cleanly(stack)
