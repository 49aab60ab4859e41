"""A card payment reaches its order through the real processes: localstripe's webhook -> web -> queue -> worker.

The Procfile's web, worker and clock run in production mode with Stripe's
keys pointing at localstripe, whose webhook is registered to the web's
/webhooks/stripe. The intent is paid at localstripe through the SDK (the
card attached, then confirmed, as the shop's page and server do); nothing in
the test settles it. The order turns paid only if the signed event is
verified and stored by the web, queued, and applied by the worker, which asks
Stripe for the intent. The reconciliation sweep waits five minutes by
default, far past the deadline here, so it cannot be what paid the order.
"""

from __future__ import annotations

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

pytestmark = pytest.mark.processes

PAID_DEADLINE_SECONDS = 30


def test_a_payment_at_stripe_pays_the_order_through_webhook_and_worker(
    start_stack,
    empty_env_file,
    migrated_postgres,
    redis_url,
    stand_in,
    app_factory,
):
    env = production_env(
        DATABASE_URL=migrated_postgres,
        REDIS_URL=redis_url,
        LOG_LEVEL="INFO",
        RATELIMIT_ENABLED="false",
        FLASK_SKIP_DOTENV="1",
        **stripe_env(stand_in),
    )
    stack = start_stack(["start", "-f", "Procfile", "-e", str(empty_env_file), "web", "worker", "clock"], env)
    stack.wait_ready()
    stand_in.register_webhook(stack.base + WEBHOOK_PATH, WEBHOOK_SECRET)

    # The test's own app reaches the stack's database and the same localstripe, to set the order up.
    uri = database_uri(migrated_postgres, None)
    shop = app_factory(
        SQLALCHEMY_DATABASE_URI=uri, SQLALCHEMY_ENGINE_OPTIONS=engine_options(uri, 2), **stripe_config(stand_in)
    )
    order, intent = make_card_order(shop, make_user(shop), make_book(shop, stock=3))
    assert pay(shop, stand_in, intent) == "succeeded"

    def status() -> str:
        with shop.app_context(), db.engine.connect() as connection:
            return connection.execute(text("SELECT status FROM purchases WHERE id = :id"), {"id": order}).scalar()

    def applied_events() -> list[tuple]:
        with shop.app_context(), db.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT type, applied_at IS NOT NULL, outcome FROM payment_events ORDER BY id")
            ).all()
        return [tuple(row) for row in rows if row[1]]

    wait_for(lambda: status() == "paid", PAID_DEADLINE_SECONDS, interval=0.2, what=f"order #{order} paid by webhook")
    # settle() commits the order's move before the claim's transaction stamps the event applied,
    # so the stamp can trail the paid status by a moment: wait for it rather than read it once.
    events = wait_for(applied_events, PAID_DEADLINE_SECONDS, interval=0.2, what="the event stamped applied")
    assert ("payment_intent.succeeded", True, f"order #{order} paid by card ({intent})") in events
    assert "stripe webhook stored" in stack.output()
    stack.wait_for_output("payment event applied")
    assert stack.stop() in (0, -15, 143)
