"""Postgres and Redis outages under the real web, worker and clock processes, and recovery without a restart.

web, worker and clock are the Procfile's own command lines. Postgres is reached
through a TCP proxy the test takes down (new connections refused, open ones
cut) and brings back; Redis too (tests/support/redis_proxy.py: it comes back
empty on the same port). Every wait is on a condition with a deadline.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from sqlalchemy import create_engine, text

from blasto.core.config import database_uri
from blasto.web.errors import DATABASE_MESSAGE, RETRY_AFTER_SECONDS
from tests.support.factories import SHIPPING_ADDRESS
from tests.support.http_client import new_account
from tests.support.processes import free_port, production_env, wait_for
from tests.support.procfile_processes import ProcessSet

pytestmark = pytest.mark.processes

RECOVERY_SECONDS = 20  # from the service's return to 200s, with no restart
OUTBOX_SWEEP_SECONDS = 10  # a new clock's first outbox sweep comes one period after it starts


@pytest.fixture
def shop(tmp_path, migrated_postgres, proxy, redis_proxy):
    """web, worker and clock on the proxied database and the proxied Redis.

    Yields (base URL, processes, bearer headers, book id).
    """
    parts = urlsplit(migrated_postgres)
    env = production_env(
        DATABASE_URL=urlunsplit((parts.scheme, f"{parts.username}@127.0.0.1:{proxy.port}", parts.path, "", "")),
        REDIS_URL=redis_proxy.url,
        WORKER_CONCURRENCY="1",
        READY_TIMEOUT_SECONDS="2",
        LOG_LEVEL="INFO",
    )
    port = free_port()
    with ProcessSet(tmp_path / "logs") as processes:
        processes.start("web", {**env, "PORT": str(port)})
        processes.start("worker", env)
        processes.start("clock", env)
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _status(base + "/readyz") == 200, 60, interval=0.1, what="/readyz = 200")
        engine = create_engine(database_uri(migrated_postgres, None))  # straight to Postgres, not through the proxy
        with engine.begin() as connection:
            book = connection.execute(
                text(
                    "INSERT INTO products (title, author, description, price_cents, stock, created_at) VALUES ('Outage', 'A. Author', '', 900, 1000, now()) RETURNING id"
                )
            ).scalar_one()
        engine.dispose()
        yield base, processes, _bearer(base), book
        log = processes["web"].output()
        assert "status=500" not in log and "unhandled exception" not in log, log[-4000:]


def _status(url: str, **kwargs) -> int | None:
    try:
        return requests.get(url, timeout=10, **kwargs).status_code
    except requests.RequestException:
        return None


def _bearer(base: str) -> dict:
    return {"Authorization": f"Bearer {new_account(base, 'outage', 'Outage')[1]}"}


def _buy(base: str, headers: dict, book: int) -> requests.Response:
    return requests.post(
        f"{base}/api/v1/purchases",
        json={"items": [{"product_id": book, "quantity": 1}], "shipping_address": SHIPPING_ADDRESS},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        timeout=15,
    )


def _booted_workers(processes: ProcessSet) -> int:
    return len(re.findall(r"Booting worker with pid", processes["web"].output()))


def test_postgres_cut_then_back_503s_then_recovers_without_a_restart(shop, proxy):
    base, processes, bearer, book = shop
    assert _status(f"{base}/books") == 200 and _buy(base, bearer, book).status_code == 201
    booted = _booted_workers(processes)

    proxy.down()
    ready = requests.get(f"{base}/readyz", timeout=10)
    assert ready.status_code == 503 and ready.json()["failed"] == ["database", "sweeps", "worker"]
    assert ready.json()["checks"]["sweeps"]["error"] == "not checked: database unreachable"
    assert ready.json()["checks"]["worker"]["error"] == "not checked: database unreachable"
    page = requests.get(f"{base}/books", timeout=10)
    assert page.status_code == 503 and page.headers["Content-Type"].startswith("text/html")
    assert DATABASE_MESSAGE.replace("'", "&#39;") in page.text and page.headers["Retry-After"] == str(
        RETRY_AFTER_SECONDS
    )
    products = requests.get(f"{base}/api/v1/products", headers=bearer, timeout=10)
    assert products.status_code == 503 and products.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert products.json() == {
        "error": "service_unavailable",
        "message": DATABASE_MESSAGE,
        "request_id": products.headers["X-Request-Id"],
    }
    assert _buy(base, bearer, book).status_code == 503
    assert _status(f"{base}/home") == 200, "the front page renders without its shelves"

    proxy.up()
    wait_for(lambda: _status(f"{base}/readyz") == 200, RECOVERY_SECONDS, interval=0.2, what="/readyz back to 200")
    wait_for(lambda: _status(f"{base}/books") == 200, RECOVERY_SECONDS, interval=0.2, what="/books back to 200")
    wait_for(
        lambda: _status(f"{base}/api/v1/products", headers=bearer) == 200,
        RECOVERY_SECONDS,
        interval=0.2,
        what="the API back to 200",
    )
    assert _buy(base, bearer, book).status_code == 201
    assert processes["web"].running and _booted_workers(processes) == booted, "no gunicorn worker was restarted"


def _email_state(migrated_postgres: str, purchase_id: int, kind: str) -> str | None:
    engine = create_engine(database_uri(migrated_postgres, None))  # straight to Postgres, not through the proxy
    try:
        with engine.connect() as connection:
            return connection.execute(
                text("SELECT state FROM outbox_messages WHERE purchase_id = :id AND kind = :kind"),
                {"id": purchase_id, "kind": kind},
            ).scalar()
    finally:
        engine.dispose()


def test_redis_down_then_back_readyz_503_checkout_still_succeeds_then_recovers(shop, redis_proxy, migrated_postgres):
    base, processes, bearer, book = shop
    booted = _booted_workers(processes)

    redis_proxy.down()
    ready = requests.get(f"{base}/readyz", timeout=15)
    # The worker's heartbeat, in Postgres, is still fresh: only the broker is down.
    assert ready.status_code == 503 and ready.json()["failed"] == ["broker"]
    assert _status(f"{base}/books") == 200
    # The order-placed e-mail is queued after the commit; the sweep covers a refused publish
    # (tests/e2e/test_receipts.py follows it through a broker outage). No receipt until it is paid.
    bought = _buy(base, bearer, book)
    assert bought.status_code == 201, bought.text
    assert _email_state(migrated_postgres, bought.json()["id"], "order_placed") == "pending"
    order = requests.get(f"{base}/api/v1/purchases/{bought.json()['id']}", headers=bearer, timeout=10).json()
    assert order["status"] == "awaiting_payment" and order["receipt"] is None

    redis_proxy.up()  # empty, as a Redis restarted without persistence
    # The clock's lock went with Redis's data: RedBeat's clock exits rather than risk a second
    # scheduler, and Heroku starts it again, as here. web and worker recover by themselves.
    clock = processes["clock"]
    wait_for(lambda: not clock.running, RECOVERY_SECONDS, what="the clock to exit, its lock gone")
    clock.start()
    wait_for(
        lambda: _status(f"{base}/readyz") == 200,
        RECOVERY_SECONDS + OUTBOX_SWEEP_SECONDS,
        interval=0.2,
        what="/readyz back to 200 (broker and worker reconnected, the new clock's first sweep run)",
    )
    clock.wait_for_output("beat: Acquired lock")
    strays = [line for line in clock.output().splitlines() if not line.startswith("time=")]
    assert strays == [] and "clock exiting" in clock.output(), "the clock's exit is one logfmt line"
    assert _buy(base, bearer, book).status_code == 201
    assert processes["web"].running and processes["worker"].running and _booted_workers(processes) == booted
