"""Card payments benchmark (issue 15): checkout with payment, and the webhook-to-paid delay, against localstripe.

Run from anywhere: `.venv/bin/python bench/card_payments.py [--orders 200] [--webhook-orders 30]`
(about 1 to 2 minutes). It needs Postgres at 127.0.0.1:5432 (user postgres, trust)
and Redis at 127.0.0.1:6379. One run starts a localstripe (the fake Stripe the
tests use, tests.support.payment_stand_in), an SMTP sink, and the Procfile's
release, web, worker and clock in production mode with STRIPE_* pointing at
localstripe and its webhook registered to the web's /webhooks/stripe, then
measures, side by side:

1. Checkout with payment through the API, from `--clients` threads, each its own
   shopper: `POST /api/v1/purchases` (the order placed, its PaymentIntent made at
   Stripe) and `POST /api/v1/purchases/<id>/payment` with the card id of a
   localstripe token (the card charged, the order paid), timed on the client;
   the token itself is Stripe.js's call to Stripe in a browser, made before the
   clock starts. After each checkout, by the same thread, the floor: the same
   Stripe calls made directly at localstripe with the SDK (create an intent;
   attach a card and confirm), so the shop's own share is the difference.
2. The webhook-to-paid delay: orders placed through the API, each intent paid
   directly at localstripe with the SDK (as a payment confirmed in the browser by
   3-D Secure, or a client that never comes back), one at a time; from the SDK's
   answer to the order showing `paid` in the database, polled every 5 ms. Only the
   webhook can pay these orders (the reconciliation sweep waits its default five
   minutes), which is checked on every event's outcome. Split into: answer to the
   event stored by the web (localstripe posts each webhook about 1 s after the
   event), and stored to paid (queued, taken by the worker, Stripe asked again,
   settled).

Everything it starts is stopped on exit, the database (blasto_bench_cards_<hex>)
dropped and the Redis database (BENCH_REDIS_URL, default index 14) flushed,
including on errors, Ctrl-C and SIGTERM. Logs go to bench/results/card_payments/
(git-ignored). Results go to docs/BENCHMARKS.md by hand, with this command and
the machine's load average, which it prints.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: bench/ is on the path, the repository root is not
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
import requests  # noqa: E402
import stripe  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from blasto.core.config import database_uri  # noqa: E402
from tests.support.card_payments import WEBHOOK_SECRET, stripe_env  # noqa: E402
from tests.support.factories import SHIPPING_ADDRESS  # noqa: E402
from tests.support.payment_stand_in import SECRET_KEY, PaymentStandIn  # noqa: E402
from tests.support.processes import run_command, wait_for  # noqa: E402
from tests.support.procfile_processes import ProcessSet  # noqa: E402
from tests.support.receipts import receipts_env, release  # noqa: E402
from tests.support.services import drop_database, fresh_database_url  # noqa: E402
from tests.support.smtp_sink import SmtpSink  # noqa: E402

LOGS = ROOT / "bench" / "results" / "card_payments"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")  # 11-13 are the other benchmarks'
PASSWORD = "a long bench passphrase"
READY_DEADLINE = 90.0
PAID_DEADLINE = 30.0
POLL_SECONDS = 0.005


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def row(name: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"| {name} | {len(ms)} | {statistics.median(ms):.1f} | {percentile(ms, 99):.1f} | {max(ms):.1f} |"


class Bench:
    def __init__(self, base: str, stand_in: PaymentStandIn, database_url: str):
        self.base = base
        self.stand_in = stand_in
        self.engine = create_engine(database_uri(database_url, None), pool_size=2, max_overflow=0)
        # The floor's calls and the webhook measure's payments: the SDK straight at localstripe.
        self.stripe = stripe.StripeClient(SECRET_KEY, base_addresses={"api": stand_in.api_base}, max_network_retries=0)

    def scalar(self, sql: str, **params):
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def shopper(self, n: int) -> dict:
        email = f"card-bench-{n}-{os.getpid()}@example.com"
        made = requests.post(
            f"{self.base}/api/v1/users", json={"email": email, "password": PASSWORD, "name": f"Bench {n}"}, timeout=30
        )
        assert made.status_code == 201, made.text
        token = requests.post(f"{self.base}/api/v1/tokens", auth=(email, PASSWORD), timeout=30)
        assert token.status_code == 201, token.text
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token.json()['token']}"
        return {"session": session}

    def place(self, shopper: dict, book: int) -> tuple[dict, float]:
        started = time.perf_counter()
        response = shopper["session"].post(
            f"{self.base}/api/v1/purchases",
            json={"items": [{"product_id": book, "quantity": 1}], "shipping_address": SHIPPING_ADDRESS},
            timeout=30,
        )
        took = time.perf_counter() - started
        assert response.status_code == 201, response.text
        return response.json(), took

    def card(self) -> str:
        """What Stripe.js gives the browser (not the shop's time): a token's card id."""
        return self.stand_in.card_token()["card"]["id"]

    def checkout(self, shopper: dict, book: int) -> tuple[float, float]:
        placed, place_took = self.place(shopper, book)
        card = self.card()
        started = time.perf_counter()
        paid = shopper["session"].post(
            f"{self.base}/api/v1/purchases/{placed['id']}/payment", json={"card_token": card}, timeout=30
        )
        pay_took = time.perf_counter() - started
        assert paid.status_code == 200 and paid.json()["status"] == "paid", paid.text
        return place_took, pay_took

    def floor(self) -> tuple[float, float]:
        """The same Stripe calls the shop makes, straight at localstripe: create; attach and confirm."""
        started = time.perf_counter()
        made = self.stripe.v1.payment_intents.create(params={"amount": 1199, "currency": "usd"})
        create_took = time.perf_counter() - started
        card = self.card()
        started = time.perf_counter()
        self.stripe.v1.payment_intents.update(made.id, params={"payment_method": card})
        assert self.stripe.v1.payment_intents.confirm(made.id).status == "succeeded"
        return create_took, time.perf_counter() - started

    def webhook_to_paid(self, shopper: dict, book: int) -> tuple[float, float, float]:
        placed, _ = self.place(shopper, book)
        order = placed["id"]
        intent = self.scalar("SELECT payment_intent_id FROM purchases WHERE id = :id", id=order)
        self.stripe.v1.payment_intents.update(intent, params={"payment_method": self.card()})
        assert self.stripe.v1.payment_intents.confirm(intent).status == "succeeded"
        answered, answered_wall = time.perf_counter(), time.time()
        wait_for(
            lambda: self.scalar("SELECT status FROM purchases WHERE id = :id", id=order) == "paid",
            PAID_DEADLINE,
            interval=POLL_SECONDS,
            what=f"order #{order} paid by its webhook",
        )
        paid = time.perf_counter() - answered

        def applied_event():  # stamped in the claim's transaction, just after the order's move commits
            with self.engine.connect() as connection:
                return connection.execute(
                    text(
                        "SELECT received_at, outcome FROM payment_events WHERE object_id = :intent"
                        " AND type = 'payment_intent.succeeded' AND applied_at IS NOT NULL"
                    ),
                    {"intent": intent},
                ).first()

        received, outcome = wait_for(applied_event, PAID_DEADLINE, interval=POLL_SECONDS, what="the event applied")
        assert outcome == f"order #{order} paid by card ({intent})", outcome  # the webhook's path paid it
        stored = received.replace(tzinfo=received.tzinfo or UTC).timestamp() - answered_wall
        return paid, stored, paid - stored


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200, help="card checkouts through the API (measure 1)")
    parser.add_argument("--clients", type=int, default=2, help="client threads for measure 1, each its own shopper")
    parser.add_argument("--webhook-orders", type=int, default=30, help="orders paid at Stripe (measure 2)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    LOGS.mkdir(parents=True, exist_ok=True)
    flush = redis.Redis.from_url(REDIS_URL)
    url, name = fresh_database_url(ADMIN_URL, prefix="blasto_bench_cards")
    try:
        flush.flushdb()
        with (
            PaymentStandIn(LOGS / "localstripe.log") as stand_in,
            SmtpSink() as sink,
            ProcessSet(LOGS) as processes,
        ):
            env = receipts_env(url, REDIS_URL, sink.url, **stripe_env(stand_in.api_base))
            release(env)
            seeded = run_command("flask --app blasto seed", env)
            assert seeded.returncode == 0, seeded.stderr
            base = processes.start_formation(env)
            wait_for(
                lambda: requests.get(base + "/readyz", timeout=5).status_code == 200,
                READY_DEADLINE,
                what="/readyz",
            )
            stand_in.register_webhook(base + "/webhooks/stripe", WEBHOOK_SECRET)
            return run(Bench(base, stand_in, url), args)
    finally:
        drop_database(ADMIN_URL, name)
        flush.flushdb()


def run(bench: Bench, args) -> int:
    with bench.engine.begin() as connection:  # enough stock that no order sells out
        book = connection.execute(text("SELECT id FROM products ORDER BY id LIMIT 1")).scalar()
        connection.execute(text("UPDATE products SET stock = 1000000 WHERE id = :id"), {"id": book})
    shoppers = [bench.shopper(n) for n in range(args.clients)]
    for shopper in shoppers:  # warm up: connections, the first intents, Jinja and SQL caches
        bench.checkout(shopper, book)
    bench.floor()

    places: list[float] = []
    pays: list[float] = []
    creates: list[float] = []
    confirms: list[float] = []
    lock = threading.Lock()
    per_client = max(1, args.orders // args.clients)

    def client(shopper: dict) -> None:
        # Each checkout is followed by its floor, so both are measured under the same load.
        for _ in range(per_client):
            place_took, pay_took = bench.checkout(shopper, book)
            create_took, confirm_took = bench.floor()
            with lock:
                places.append(place_took)
                pays.append(pay_took)
                creates.append(create_took)
                confirms.append(confirm_took)

    started = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        list(pool.map(client, shoppers))
    wall = time.perf_counter() - started

    webhook = [bench.webhook_to_paid(shoppers[0], book) for _ in range(args.webhook_orders)]
    paid, stored, applied = zip(*webhook, strict=True)

    load = os.getloadavg()
    print(f"\nload average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} CPUs)")
    print(f"\n{len(places)} card checkouts, each with its floor, from {args.clients} clients in {wall:.1f} s\n")
    print("| measure | n | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    print(row("POST /purchases (order placed, intent made)", places))
    print(row("POST /purchases/<id>/payment (card charged, order paid)", pays))
    print(row("both: checkout with payment", [a + b for a, b in zip(places, pays, strict=True)]))
    print(row("floor: create an intent at localstripe directly", creates))
    print(row("floor: attach a card and confirm at localstripe directly", confirms))
    print(row("webhook to paid: Stripe's answer to the order paid", list(paid)))
    print(row("  of which: answer to the event stored by the web", list(stored)))
    print(row("  of which: event stored to the order paid (queue, worker, Stripe, settle)", list(applied)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
