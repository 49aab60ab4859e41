"""Errors of the real web, worker and clock reach Sentry (a stand-in ingest), and nothing personal does.

The processes are the Procfile's command lines on a fresh Postgres database.
The faults are real: the `users` table disappears under a running web, so
requests that need it raise ProgrammingError (the client still gets the
app's own 500); the worker then takes a welcome e-mail whose account cannot
be read (a failed task); the clock's lock vanishes from Redis, as when Redis
restarts empty, and the clock exits rather than risk being a second scheduler
(a critical log line). The failing requests carry a shopper's e-mail, password, name,
token, cookie and address, and the mail server's password is in the worker's
settings: none of them may appear anywhere in what Sentry receives.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import uuid
from dataclasses import dataclass, field

import psycopg
import pytest
import redis
import requests

from tests.support.http_client import answers
from tests.support.processes import free_port, production_env, wait_for
from tests.support.procfile_processes import ProcessSet
from tests.support.sentry_ingest import SentryIngest

pytestmark = pytest.mark.processes

CLIENT_ADDRESS = "203.0.113.77"  # TEST-NET-3: what the router would put in X-Forwarded-For
SEND_TASK_QUEUE = "blasto"  # the Redis list the welcome e-mail's task waits in
STARTED = "errors go to Sentry"


@pytest.fixture
def ingest():
    with SentryIngest() as running:
        yield running


@dataclass
class Failures:
    """What the test made fail, and every personal or secret string it put within the app's reach."""

    signup_request_id: str
    web_request_ids: list[str] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)


def fault_env(database_url: str, redis_url: str, **extra: str) -> dict:
    smtp_password = f"smtp-pw-{secrets.token_hex(6)}"
    return production_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        # Never reached (the failing task stops before it connects); its password must not leak.
        SMTP_URL=f"smtp://mailer:{smtp_password}@127.0.0.1:{free_port()}",
        MAIL_FROM="Blasto <shop@blasto.example>",
        WORKER_CONCURRENCY="1",
        OUTBOX_SWEEP_EVERY_SECONDS="0.5",
        HEROKU_SLUG_COMMIT=secrets.token_hex(20),
        HEROKU_RELEASE_VERSION="v42",
        HEROKU_APP_NAME="blasto-sentry-test",
        **extra,
    )


def make_every_process_fail(processes: ProcessSet, env: dict, database_url: str, redis_url: str) -> Failures:
    """Run web, then worker, then clock, each into a real error; return what was sent and what must not leak."""
    port = free_port()
    processes.start("web", {**env, "PORT": str(port), "DYNO": "web.1"})
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: answers(base + "/healthz"), 45, interval=0.1, what="the web process")

    tag = uuid.uuid4().hex[:10]
    email, password, name = f"ada.{tag}@example.com", f"pw-{tag}-Secret!", f"Ada Sentinel{tag}"
    failures = Failures(signup_request_id=f"signup-{tag}")
    signup = requests.post(
        f"{base}/api/v1/users",
        json={"email": email, "password": password, "name": name},
        headers={"X-Request-Id": failures.signup_request_id},
        timeout=15,
    )
    assert signup.status_code == 201, signup.text
    token = requests.post(f"{base}/api/v1/tokens", auth=(email, password), timeout=15).json()["token"]
    # The welcome e-mail's task waits in Redis for a worker, which is not started yet.
    broker = redis.Redis.from_url(redis_url)
    wait_for(lambda: broker.llen(SEND_TASK_QUEUE) >= 1, 15, what="the welcome e-mail's task in Redis")
    broker.close()

    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("ALTER TABLE users RENAME TO users_gone")

    cookie = f"cookie-{tag}"
    common = {"X-Forwarded-For": CLIENT_ADDRESS, "Cookie": f"remember_token={cookie}"}
    calls = [
        ("POST", f"/api/v1/tokens?email={email}", {"Authorization": _basic(email, password)}),
        ("GET", f"/api/v1/users/me?access_token={token}", {"Authorization": f"Bearer {token}"}),
    ]
    for number, (method, path, headers) in enumerate(calls):
        request_id = f"fails-{number}-{tag}"
        headers = {**common, **headers, "X-Request-Id": request_id}
        response = requests.request(method, base + path, headers=headers, timeout=15)
        assert response.status_code == 500, response.text
        assert response.headers["X-Request-Id"] == request_id
        assert response.json()["error"] == "internal_server_error" and response.json()["request_id"] == request_id
        failures.web_request_ids.append(request_id)

    # The log-in form as a browser posts it through the router: over HTTPS, with the
    # CSRF token, the session cookie (Secure, so passed by hand here) and a Referer.
    router = {"X-Forwarded-Proto": "https", "X-Forwarded-Port": "443", "X-Forwarded-For": CLIENT_ADDRESS}
    page = requests.get(f"{base}/login", headers=router, timeout=15)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    session_cookie = page.cookies["session"]
    request_id = f"fails-login-{tag}"
    form = {"csrf_token": csrf, "email": email, "password": password}
    headers = {
        **router,
        "X-Request-Id": request_id,
        "Cookie": f"session={session_cookie}",
        "Referer": "https://127.0.0.1/login",
    }
    response = requests.post(f"{base}/login", data=form, headers=headers, timeout=15)
    assert response.status_code == 500 and response.headers["Content-Type"].startswith("text/html"), response.text
    assert response.headers["X-Request-Id"] == request_id
    assert "Traceback" not in response.text and "ProgrammingError" not in response.text
    failures.web_request_ids.append(request_id)

    processes.start("worker", {**env, "DYNO": "worker.1"})
    clock = processes.start("clock", {**env, "DYNO": "clock.1"})
    clock.wait_for_output("beat: Acquired lock", 60)
    lose_the_clocks_lock(redis_url)

    smtp_password = re.search(r"mailer:([^@]+)@", env["SMTP_URL"]).group(1)
    failures.secrets = {
        "e-mail": email,
        "e-mail's local part": email.split("@")[0],
        "password": password,
        "name": name,
        "token": token,
        "Basic credentials": _basic(email, password).split()[1],
        "cookie": cookie,
        "client address": CLIENT_ADDRESS,
        "SMTP password": smtp_password,
        "CSRF token": csrf,
        "session cookie": session_cookie,
    }
    return failures


def lose_the_clocks_lock(redis_url: str) -> None:
    """Delete RedBeat's lock key, as a Redis restarted without its data would have lost it."""
    client = redis.Redis.from_url(redis_url)
    try:
        locks = list(client.scan_iter(match="redbeat*lock*"))
        assert len(locks) == 1, locks
        client.delete(*locks)
    finally:
        client.close()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _exception_types(event: dict) -> set[str]:
    return {value.get("type") for value in event.get("exception", {}).get("values", [])}


def _the_clock_exiting(event: dict) -> bool:
    """Beat's critical line when RedBeat can no longer renew its lock (the clock then exits)."""
    said = json.dumps([event.get("logentry"), event.get("exception")])
    return event.get("level") == "fatal" and "LockNotOwnedError" in said


def test_errors_of_web_worker_and_clock_reach_sentry_with_the_release_and_no_personal_data(
    processes, migrated_postgres, redis_url, ingest
):
    env = fault_env(migrated_postgres, redis_url, SENTRY_DSN=ingest.dsn)
    failures = make_every_process_fail(processes, env, migrated_postgres, redis_url)

    def event(server: str, match) -> dict | None:
        return next((e for e in ingest.events() if e.get("server_name") == server and match(e)), None)

    web_events = {
        request_id: wait_for(
            lambda: event("web.1", lambda e: e.get("tags", {}).get("request_id") == request_id),
            30,
            what=f"the web's event for request {request_id}",
        )
        for request_id in failures.web_request_ids
    }
    task = wait_for(
        lambda: event("worker.1", lambda e: "celery_task_id" in e.get("tags", {})), 60, what="the worker's failed task"
    )
    beat = wait_for(lambda: event("clock.1", _the_clock_exiting), 60, what="the clock's exit on a lost lock")

    for web_event in web_events.values():
        assert "ProgrammingError" in _exception_types(web_event), web_event.get("exception")
        assert web_event["request"]["url"].startswith("http") and "?" not in web_event["request"]["url"]
    assert "ProgrammingError" in _exception_types(task)
    assert task["extra"]["celery-job"]["task_name"] == "blasto.outbox.send"
    assert task["tags"]["request_id"] == failures.signup_request_id, "the id of the request that owed the e-mail"
    assert beat["level"] == "fatal"  # logging's CRITICAL
    for each in [*web_events.values(), task, beat]:
        assert each["release"] == env["HEROKU_SLUG_COMMIT"]
        assert each["environment"] == "production"
        assert "user" not in each
        assert all(
            "vars" not in frame
            for value in each.get("exception", {}).get("values", [])
            for frame in (value.get("stacktrace") or {}).get("frames", [])
        )
    for name in ("web", "worker", "clock"):
        started = re.search(rf"{STARTED}.* release=(\S+)", processes[name].output())
        assert started and started.group(1) == env["HEROKU_SLUG_COMMIT"], (
            f"{name} says where its errors go, and as what"
        )

    leaks = {
        what: value
        for what, value in failures.secrets.items()
        if any(value.encode() in envelope.body for envelope in ingest.envelopes())
    }
    assert leaks == {}, f"sent to Sentry: {sorted(leaks)}"


def test_without_sentry_dsn_the_same_errors_send_nothing(processes, migrated_postgres, redis_url, ingest):
    env = fault_env(migrated_postgres, redis_url, SENTRY_DSN="")  # as `heroku config:set SENTRY_DSN=` leaves it
    failures = make_every_process_fail(processes, env, migrated_postgres, redis_url)

    web, worker, clock = processes["web"], processes["worker"], processes["clock"]
    for request_id in failures.web_request_ids:
        wait_for(
            lambda: re.search(rf"request_id={re.escape(request_id)} .*unhandled exception", web.output()),
            30,
            what=f"the web's error line for {request_id}",
        )
    failed_task = r"blasto\.outbox\.send\[[0-9a-f-]+\] raised unexpected: ProgrammingError"
    wait_for(lambda: re.search(failed_task, worker.output()), 60, what="the worker's failed task")
    wait_for(lambda: "logger=blasto.clock" in clock.output(), 60, what="the clock's exit on a lost lock")
    # An SDK would send what it holds when its process exits: stop them all first.
    for name in ("clock", "worker", "web"):
        processes[name].terminate()

    assert ingest.requests == 0
    for name in ("web", "worker", "clock"):
        assert STARTED not in processes[name].output()
