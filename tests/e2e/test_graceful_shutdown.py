"""SIGTERM to the web process under load, as Heroku sends at every restart: no accepted request fails.

gunicorn runs from the Procfile, its own process group (Heroku signals every
process in the dyno). Client threads keep browsing and buying; some purchases
are held in flight by a row lock the test takes, so the signal lands while
they run. Requests that reach a closed listener are refused (Heroku's router
retries those on another dyno) and counted apart; every request the server
accepted must complete with its normal status, and gunicorn must be gone
well within graceful_timeout, itself below Heroku's 30 s SIGKILL.
"""

from __future__ import annotations

import errno
import re
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field

import pytest
import requests
from sqlalchemy import create_engine, text

from blasto.core.config import database_uri
from tests.support.factories import SHIPPING_ADDRESS
from tests.support.http_client import answers, new_account
from tests.support.processes import ROOT, free_port, production_env, wait_for

pytestmark = pytest.mark.processes

HEROKU_SIGKILL_AFTER = 30
CLIENTS_PER_KIND = 3  # threads browsing /home, reading the API, buying
HELD_PURCHASES = 2  # purchases blocked on the row lock when SIGTERM arrives


def graceful_timeout() -> float:
    match = re.search(r"^graceful_timeout\s*=\s*(\d+(?:\.\d+)?)\s*$", (ROOT / "gunicorn.conf.py").read_text(), re.M)
    assert match, "gunicorn.conf.py sets graceful_timeout explicitly"
    return float(match.group(1))


@dataclass
class Tally:
    """What the clients saw; refused connections apart from failures."""

    ok: list[tuple[str, float, float]] = field(default_factory=list)  # (kind, started, finished)
    refused: int = 0
    failed: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def in_flight_at(self, moment: float, kind: str) -> int:
        return sum(1 for k, started, finished in self.ok if k == kind and started < moment < finished)


def refused(exc: requests.ConnectionError) -> bool:
    """The TCP connect itself was refused: the request never reached gunicorn."""
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", None)
    while reason is not None:
        if isinstance(reason, ConnectionRefusedError) or getattr(reason, "errno", None) == errno.ECONNREFUSED:
            return True
        reason = reason.__cause__ or reason.__context__
    return False


def client(kind: str, base: str, token: str, book: int, tally: Tally, stop: threading.Event) -> None:
    expected = {"home": 200, "products": 200, "buy": 201}[kind]
    headers = {"Authorization": f"Bearer {token}"}
    with requests.Session() as session:  # keep-alive, as the router's connections are
        while not stop.is_set():
            started = time.monotonic()
            request_id = uuid.uuid4().hex  # finds the request in the access log if it fails
            traced = {**headers, "X-Request-Id": request_id}
            try:
                if kind == "home":
                    response = session.get(f"{base}/home", headers={"X-Request-Id": request_id}, timeout=30)
                elif kind == "products":
                    response = session.get(f"{base}/api/v1/products?per_page=5", headers=traced, timeout=30)
                else:
                    response = session.post(
                        f"{base}/api/v1/purchases",
                        json={"items": [{"product_id": book, "quantity": 1}], "shipping_address": SHIPPING_ADDRESS},
                        headers={**traced, "Idempotency-Key": uuid.uuid4().hex},
                        timeout=30,
                    )
            except requests.ConnectionError as exc:
                with tally.lock:
                    if refused(exc):
                        tally.refused += 1
                    else:
                        tally.failed.append(f"{kind} {request_id}: {exc!r}")
                time.sleep(0.01)  # a refused client backs off a little, as the router would move on
                continue
            except requests.RequestException as exc:
                with tally.lock:
                    tally.failed.append(f"{kind} {request_id}: {exc!r}")
                continue
            with tally.lock:
                if response.status_code == expected:
                    tally.ok.append((kind, started, time.monotonic()))
                else:
                    tally.failed.append(f"{kind} {request_id}: {response.status_code} {response.text[:200]}")


def test_sigterm_under_load_finishes_every_accepted_request_and_exits_within_graceful_timeout(
    processes, migrated_postgres, redis_url
):
    limit = graceful_timeout()
    assert limit < HEROKU_SIGKILL_AFTER
    # One client address buying nonstop: a load test, not what the checkout rate limit is for.
    env = production_env(
        DATABASE_URL=migrated_postgres, REDIS_URL=redis_url, LOG_LEVEL="INFO", RATELIMIT_ENABLED="false"
    )
    engine = create_engine(database_uri(migrated_postgres, None))
    database = migrated_postgres.rsplit("/", 1)[1]
    port = free_port()
    web = processes.start("web", {**env, "PORT": str(port)})
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: answers(base + "/healthz"), 30, interval=0.1, what="the web process")
    with engine.begin() as connection:
        book = connection.execute(
            text(
                "INSERT INTO products (title, author, description, price_cents, stock, created_at) VALUES ('Shutdown', 'A. Author', '', 700, 1000000, now()) RETURNING id"
            )
        ).scalar_one()
    _, token = new_account(base, "load", "Load")

    tally, stop = Tally(), threading.Event()
    threads = [
        threading.Thread(target=client, args=(kind, base, token, book, tally, stop), name=f"{kind}-{n}")
        for kind in ("home", "products", "buy")
        for n in range(CLIENTS_PER_KIND)
    ]
    for thread in threads:
        thread.start()
    try:
        wait_for(
            lambda: {k for k, *_ in tally.ok} == {"home", "products", "buy"} and len(tally.ok) >= 60,
            30,
            what="the load running",
        )
        # Hold the book's row: purchases now wait inside gunicorn, in flight.
        holder = engine.connect()
        holder_tx = holder.begin()
        holder.execute(text("SELECT id FROM products WHERE id = :id FOR UPDATE"), {"id": book})
        wait_for(
            lambda: _waiting_on_locks(engine, database) >= HELD_PURCHASES,
            15,
            interval=0.02,
            what=f"{HELD_PURCHASES} purchases waiting on the lock",
        )

        sent = time.monotonic()
        web.signal(signal.SIGTERM)  # to the whole group, as Heroku does
        # The listener closes at once, while the held purchases are still running.
        wait_for(lambda: tally.refused > 0, 10, interval=0.02, what="a connection refused after SIGTERM")
        assert _waiting_on_locks(engine, database) >= HELD_PURCHASES, "the held purchases were still in flight"
        holder_tx.commit()  # let them finish
        holder.close()
        web.terminate(timeout=limit)  # Heroku may send SIGTERM again; this waits for the whole group to exit
        exited_after = time.monotonic() - sent
    finally:
        stop.set()
        for thread in threads:
            thread.join(35)
    with engine.connect() as connection:
        purchases = connection.execute(text("SELECT count(*) FROM purchases")).scalar_one()
    engine.dispose()

    log = web.output()
    seen = [failure for failure in tally.failed if failure.split()[1] in log]
    assert tally.failed == [], (
        f"{len(tally.failed)} requests failed, {len(seen)} of them seen by gunicorn (the others were lost "
        f"before it read them): {tally.failed[:5]}"
    )
    assert tally.in_flight_at(sent, "buy") >= HELD_PURCHASES, "the purchases in flight at SIGTERM completed with 201"
    assert purchases == sum(1 for kind, *_ in tally.ok if kind == "buy"), "every purchase made was answered, none twice"
    assert tally.refused > 0
    assert exited_after < limit, f"gunicorn took {exited_after:.1f} s"
    assert "Handling signal: term" in log and "Shutting down: Master" in log, log[-3000:]
    for sign in ("WORKER TIMEOUT", "SIGKILL", "status=500", "Traceback"):
        assert sign not in log, log[-3000:]


def _waiting_on_locks(engine, database: str) -> int:
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db AND wait_event_type = 'Lock'"),
            {"db": database},
        ).scalar_one()
