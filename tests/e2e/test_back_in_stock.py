"""Back in stock through the real processes: an order cancelled on the web owes the e-mail, the worker sends it.

Postgres, Redis and an SMTP server (aiosmtpd) are real; web, worker and clock
are the Procfile's own command lines. Every wait is on a condition with a
deadline.
"""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import text

from blasto.core.config import celery_config, database_uri, engine_options
from blasto.shop.restock_wishes import ask
from tests.support.processes import wait_for
from tests.support.receipts import Shop, email_id, receipts_env

pytestmark = pytest.mark.processes

BACK_IN_STOCK = "back_in_stock"


def test_a_cancelled_order_putting_a_sold_out_book_back_e_mails_the_waiting_shopper_once(
    processes, migrated_postgres, redis_url, sink, app_factory, tmp_path
):
    env = receipts_env(migrated_postgres, redis_url, sink.url)
    base = processes.start_formation(env)
    shop = Shop([base], migrated_postgres)
    try:
        book = shop.add_book(stock=1)
        _, buyer = shop.shopper()
        order = shop.buy(buyer, book)  # the last copy: sold out
        waiter, _ = shop.shopper()
        with shop.engine.connect() as connection:
            waiter_id = connection.execute(text("SELECT id FROM users WHERE email = :e"), {"e": waiter}).scalar_one()
        uri = database_uri(migrated_postgres, None)
        office = app_factory(
            SQLALCHEMY_DATABASE_URI=uri,
            SQLALCHEMY_ENGINE_OPTIONS=engine_options(uri, 2),
            CELERY=celery_config(redis_url, tmp_path, {}),
        )
        with office.app_context():
            ask(waiter_id, book)  # what the book page's button does

        cancelled = requests.post(
            f"{base}/api/v1/purchases/{order}/cancel", headers={"Authorization": f"Bearer {buyer}"}, timeout=15
        )
        assert cancelled.status_code == 200, cancelled.text

        shop.wait_until_all_receipts_settle(1, timeout=30, kind=BACK_IN_STOCK)
        mails = wait_for(
            lambda: [m for m in sink.for_recipient(waiter) if email_id(BACK_IN_STOCK).match(m.message_id or "")],
            15,
            what="the back-in-stock e-mail in the sink",
        )
        assert len(mails) == 1 and mails[0].subject == "“Receipt Test” is back in stock at Blasto"
        body = mails[0].message.get_body(("plain",)).get_content()
        assert f"See the book: {base}/books/{book}" in body
        assert shop.receipt_states(BACK_IN_STOCK) == {"sent": 1}
        with shop.engine.connect() as connection:
            told = connection.execute(
                text("SELECT notified_at IS NOT NULL FROM restock_wishes WHERE user_id = :u"), {"u": waiter_id}
            ).scalar_one()
        assert told, "the wish is marked notified"
    finally:
        shop.close()
