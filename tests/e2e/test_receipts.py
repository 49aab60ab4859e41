"""Receipts through the real processes: exactly one per purchase, whatever fails.

Postgres, Redis and an SMTP server (aiosmtpd) are real; web, worker and clock
are the Procfile's own command lines. Every wait is on a condition with a
deadline.
"""
from __future__ import annotations

import re

import pytest

from tests.support.receipts import Shop, assert_one_receipt_each, receipts_env, release
from tests.support.smtp_sink import SmtpSink


@pytest.fixture
def sink():
    with SmtpSink() as running:
        yield running


@pytest.fixture
def shop_factory(postgres_database):
    shops: list[Shop] = []

    def make(bases: list[str]) -> Shop:
        shops.append(Shop(bases, postgres_database))
        return shops[-1]

    yield make
    for shop in shops:
        shop.close()


def test_200_checkouts_over_two_webs_and_two_workers_send_200_receipts(start_stack, empty_env_file, postgres_database, redis_url, sink, shop_factory):
    env = receipts_env(postgres_database, redis_url, sink.url)
    release(env)
    stack = start_stack(["start", "-f", "Procfile", "-e", str(empty_env_file), "-c", "web=2,worker=2", "web", "worker", "clock"], env)
    stack.wait_ready()
    shop = shop_factory([stack.base, f"http://127.0.0.1:{stack.port + 1}"])
    book = shop.add_book()

    bought = shop.checkouts(200, book, clients=10)

    assert len(bought) == 200
    shop.wait_until_all_receipts_settle(200, timeout=60)
    assert_one_receipt_each(sink, bought)
    workers = set(re.findall(r"(worker\.\d+)\s*\|.*e-mail sent", stack.output()))
    assert workers == {"worker.1", "worker.2"}, f"both workers sent receipts, not only {workers}"
    assert stack.stop() in (0, -15, 143)
