"""The worker SIGKILLed while it applies a Stripe event: the order still ends paid once, the event applied once.

The Procfile's web, worker and clock run as separate processes (each killable
alone) with Stripe's keys pointing at a TCP proxy in front of localstripe. The
intent is paid at localstripe; its webhook reaches the web, which stores the
event and queues it; the worker claims the event's row and asks Stripe for the
intent. The proxy holds that call (it takes the connection and never answers),
so the worker is caught mid-apply, deterministically: the test sees the held
connection and the row locked by the claim, then SIGKILLs the worker. Nothing
may have been half done: the claim's transaction dies with the worker's
connection. Stripe answers again, a worker starts again, and the card sweep
finds the event unapplied (its task died unacked with the worker) and queues
it: the order turns paid exactly once, with one receipt owed.

The reconciliation sweep (which would settle the order by asking Stripe, with
no event) waits its default five minutes, so it cannot be what pays the order
here.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from blasto.core.config import database_uri, engine_options
from blasto.core.extensions import db
from tests.support.card_orders import (
    WEBHOOK_PATH,
    WEBHOOK_SECRET,
    make_card_order,
    pay,
    stripe_config,
    stripe_env,
)
from tests.support.factories import make_book, make_user
from tests.support.processes import production_env, wait_for
from tests.support.procfile_processes import ProcfileProcess
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.processes

DEADLINE_SECONDS = 45  # a webhook comes ~1 s after the payment; the sweep runs every second here


def _children(pid: int) -> list[int]:
    """Live processes whose parent is `pid`, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()  # state ppid ...
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def pool_children(worker: ProcfileProcess) -> list[int]:
    """The Celery pool's processes: the children of the main worker process (the shell's child, or the
    shell itself if it exec'd)."""
    assert worker.pid is not None
    below_shell = _children(worker.pid)
    main = below_shell[0] if len(below_shell) == 1 and _children(below_shell[0]) else worker.pid
    return _children(main)


@pytest.mark.parametrize("kill", ["whole dyno", "pool children"])
def test_worker_killed_mid_apply_pays_the_order_once(
    kill, processes, migrated_postgres, redis_url, stand_in, app_factory
):
    host, port = urlsplit(stand_in.api_base).hostname, urlsplit(stand_in.api_base).port
    with TcpProxy(host, port) as stripe_proxy:
        proxied = stripe_env(stand_in) | {"STRIPE_API_BASE": f"http://127.0.0.1:{stripe_proxy.port}"}
        env = production_env(
            DATABASE_URL=migrated_postgres,
            REDIS_URL=redis_url,
            LOG_LEVEL="INFO",
            RATELIMIT_ENABLED="false",
            FLASK_SKIP_DOTENV="1",
            CARD_SWEEP_EVERY_SECONDS="1",
            CARD_EVENT_RETRY_AFTER_SECONDS="2",
            **proxied,
        )
        base = processes.start_formation(env)
        worker = processes["worker"]
        stand_in.register_webhook(base + WEBHOOK_PATH, WEBHOOK_SECRET)

        # The test's own app reaches the database and localstripe directly (not through the proxy).
        uri = database_uri(migrated_postgres, None)
        shop = app_factory(
            SQLALCHEMY_DATABASE_URI=uri, SQLALCHEMY_ENGINE_OPTIONS=engine_options(uri, 2), **stripe_config(stand_in)
        )

        def rows(sql: str, **params) -> list:
            with shop.app_context(), db.engine.connect() as connection:
                return connection.execute(text(sql), params).all()

        def locked_by_a_claim(event_row: int) -> bool:
            with shop.app_context(), db.engine.connect() as connection, connection.begin():
                free = connection.execute(
                    text("SELECT id FROM payment_events WHERE id = :id FOR UPDATE SKIP LOCKED"), {"id": event_row}
                ).first()
                return free is None

        order, intent = make_card_order(shop, make_user(shop), make_book(shop, stock=3))
        stripe_proxy.hold()  # Stripe stops answering the stack (the test's own calls go direct)
        assert pay(shop, stand_in, intent) == "succeeded"

        # localstripe's webhook is stored by the web and queued; the worker's claim then waits on Stripe.
        (event_row,) = wait_for(
            lambda: [r.id for r in rows("SELECT id FROM payment_events WHERE type = 'payment_intent.succeeded'")],
            DEADLINE_SECONDS,
            what="the payment_intent.succeeded event stored by the web",
        )
        wait_for(lambda: stripe_proxy.held >= 1, DEADLINE_SECONDS, interval=0.05, what="the worker's call to Stripe")
        assert locked_by_a_claim(event_row), "the worker holds the event's row while it asks Stripe"

        if kill == "whole dyno":
            worker.kill()  # SIGKILL to the whole process group: a crashed dyno, the task unacked
        else:
            children = pool_children(worker)
            assert children, "the worker has pool processes"
            for child in children:
                os.kill(child, signal.SIGKILL)  # the main process sees them lost and requeues the task

        # Nothing half done: the claim died with its connection; the order still waits for its money.
        wait_for(lambda: not locked_by_a_claim(event_row), 15, interval=0.1, what="the dead claim's lock released")
        (applied,) = rows("SELECT applied_at FROM payment_events WHERE id = :id", id=event_row)
        assert applied.applied_at is None
        assert rows("SELECT status FROM purchases WHERE id = :id", id=order)[0].status == "awaiting_payment"

        stripe_proxy.release()
        if kill == "whole dyno":
            worker.start()

        wait_for(
            lambda: rows("SELECT status FROM purchases WHERE id = :id", id=order)[0].status == "paid",
            DEADLINE_SECONDS,
            interval=0.2,
            what=f"order #{order} paid after the worker's death",
        )
        wait_for(
            lambda: rows("SELECT applied_at FROM payment_events WHERE id = :id", id=event_row)[0].applied_at,
            DEADLINE_SECONDS,
            interval=0.2,
            what="the event stamped applied",
        )
        # Applied once: one claim committed (the sweep may queue the event again; those tasks find it applied).
        wait_for(lambda: "payment event applied" in worker.output(), 15, what="the worker's log of the apply")
        assert worker.output().count("payment event applied") == 1, worker.output()[-3000:]
        if kill == "pool children":
            assert worker.running, "the worker's main process outlived its pool and took the task again"

        history = rows(
            "SELECT from_status, to_status, cause FROM purchase_events WHERE purchase_id = :id ORDER BY id", id=order
        )
        assert [(h.to_status, h.cause) for h in history if h.to_status == "paid"] == [("paid", "provider")], history
        receipts = rows("SELECT id FROM outbox_messages WHERE purchase_id = :id AND kind = 'receipt'", id=order)
        assert len(receipts) == 1, receipts
        (event,) = rows("SELECT applied_at, outcome FROM payment_events WHERE id = :id", id=event_row)
        assert event.outcome == f"order #{order} paid by card ({intent})"
        assert stripe_proxy.held >= 1
