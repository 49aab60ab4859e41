"""A checkout's e-mail through the real processes: exactly one per purchase, whatever fails.

Every checkout owes the order-placed e-mail (how to pay) in its transaction;
the receipt follows the payment (tests/functional/test_order_lifecycle.py).
The guarantees are the outbox's, the same for either.

Postgres, Redis and an SMTP server (aiosmtpd) are real; web, worker and clock
are the Procfile's own command lines. Every wait is on a condition with a
deadline.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from sqlalchemy import text

from blasto.core.config import celery_config, database_uri, engine_options
from blasto.core.mail_settings import SMTP, MailSettings, SmtpSettings
from blasto.models.purchase import ADMIN
from blasto.shop.orders import PAY, move
from tests.support.http_client import answers
from tests.support.processes import process_env, run_command, wait_for
from tests.support.receipts import (
    MAIL_FROM,
    Shop,
    assert_one_receipt_each,
    receipts_env,
)

pytestmark = pytest.mark.processes


@pytest.fixture
def shop_factory(migrated_postgres):
    shops: list[Shop] = []

    def make(bases: list[str]) -> Shop:
        shops.append(Shop(bases, migrated_postgres))
        return shops[-1]

    yield make
    for shop in shops:
        shop.close()


def test_200_checkouts_over_two_webs_and_two_workers_send_200_receipts(
    start_stack, empty_env_file, migrated_postgres, redis_url, sink, shop_factory
):
    env = receipts_env(migrated_postgres, redis_url, sink.url)
    stack = start_stack(
        ["start", "-f", "Procfile", "-e", str(empty_env_file), "-c", "web=2,worker=2", "web", "worker", "clock"], env
    )
    stack.wait_ready()
    bases = [stack.base, f"http://127.0.0.1:{stack.port + 1}"]  # honcho: web.2 listens on PORT + 1
    wait_for(lambda: all(answers(base + "/healthz") for base in bases), 30, interval=0.1, what="both web processes")
    shop = shop_factory(bases)
    book = shop.add_book()

    bought = shop.checkouts(200, book, clients=10)

    assert len(bought) == 200
    shop.wait_until_all_receipts_settle(200, timeout=60)
    assert_one_receipt_each(sink, bought)
    workers = set(re.findall(r"(worker\.\d+)\s*\|.*e-mail sent", stack.output()))
    assert workers == {"worker.1", "worker.2"}, f"both workers sent receipts, not only {workers}"
    assert stack.stop() in (0, -15, 143)


def test_worker_sigkilled_mid_send_and_restarted_still_sends_one_receipt_each(
    processes, migrated_postgres, redis_url, sink, shop_factory
):
    sink.holding = True  # every send waits in the sink until released: each kill lands mid-send
    env = receipts_env(migrated_postgres, redis_url, sink.url, WORKER_CONCURRENCY="1")
    shop = shop_factory([processes.start_formation(env)])
    book = shop.add_book()
    worker, kills, done = processes["worker"], [], threading.Event()

    def kill_mid_send():
        while len(kills) < 4 and not done.is_set():
            wait_for(lambda: sink.in_flight > 0 or done.is_set(), 60, interval=0.01, what="a send in flight")
            if done.is_set():
                return
            worker.kill()  # SIGKILL to the whole process group: no goodbye, no ack
            kills.append(len(sink.received))
            # The sink sees the dead client's connection close; the next kill waits for a new send.
            wait_for(lambda: sink.in_flight == 0, 30, interval=0.01, what="the cut send to end at the sink")
            worker.start()
        sink.holding = False

    killer = threading.Thread(target=kill_mid_send)
    killer.start()
    try:
        bought = shop.checkouts(80, book, clients=4)
        wait_for(lambda: len(kills) == 4 or not killer.is_alive(), 60, what="four kills")
    finally:
        done.set()
        killer.join(10)
        sink.holding = False
    assert kills == [0, 0, 0, 0], "nothing was accepted while the sink held every send"
    shop.wait_until_all_receipts_settle(80, timeout=90)
    assert_one_receipt_each(sink, bought)
    assert sink.attempts >= len(sink.received) + 4, "the four sends cut off by the kills were redone"


def test_broker_down_during_checkouts_every_checkout_succeeds_and_every_receipt_arrives_once(
    processes,
    migrated_postgres,
    redis_proxy,
    sink,
    shop_factory,
):
    env = receipts_env(migrated_postgres, redis_proxy.url, sink.url)
    shop = shop_factory([processes.start_formation(env)])
    book = shop.add_book()
    bought = shop.checkouts(30, book, clients=3)
    shop.wait_until_all_receipts_settle(30, timeout=30)

    redis_proxy.down()
    started = time.monotonic()
    bought.update(shop.checkouts(30, book, clients=3))  # every one answers 201 (asserted in buy)
    during_outage = time.monotonic() - started
    assert shop.receipt_states()["pending"] == 30, "nothing could be queued while Redis was down"
    redis_proxy.up()  # empty: whatever was queued before is gone too
    worker = processes["worker"]

    def restarted_if_crashed() -> None:
        # kombu can crash the worker when the broker drops mid-ack ("Unrecoverable error ...
        # 'NoneType' object has no attribute 'hostname'" in restore_unacked), at once or when it
        # reconnects; Heroku restarts a crashed dyno, so the test does too, whenever it happens.
        if not worker.running:
            print(f"worker crashed after the outage; restarted as Heroku would:\n{worker.output()[-1500:]}")
            worker.start()

    restarted_if_crashed()
    # The clock's RedBeat lock went with Redis's data: it exits rather than risk being a second
    # scheduler, and Heroku starts it again; so does the test. Its sweep queues the 30 pending receipts.
    clock = processes["clock"]
    wait_for(lambda: not clock.running, 30, what="the clock to exit, its lock gone")
    clock.start()

    bought.update(shop.checkouts(10, book, clients=2))

    def all_sent() -> bool:
        restarted_if_crashed()
        return shop.receipt_states().get("sent", 0) >= 70

    try:
        wait_for(all_sent, 90, interval=0.2, what="70 order-placed e-mails sent")
    except AssertionError as timed_out:  # say what the processes were doing, for the next reader
        tails = "\n".join(f"--- {name}:\n{processes[name].output()[-3000:]}" for name in ("worker", "clock", "web"))
        raise AssertionError(f"{timed_out} (now {dict(shop.receipt_states())})\n{tails}") from None
    assert_one_receipt_each(sink, bought)
    assert during_outage < 30, f"30 checkouts took {during_outage:.1f} s with the broker down"
    web_log = processes["web"].output()
    assert "e-mail not queued; the sweep will queue it" in web_log
    assert " 500 " not in web_log and "status=500" not in web_log


def test_smtp_refusing_then_accepting_is_retried_and_a_lasting_refusal_fails_then_the_cli_retries_once(
    processes, migrated_postgres, redis_url, sink, shop_factory
):
    patient = receipts_env(
        migrated_postgres,
        redis_url,
        sink.url,
        OUTBOX_MAX_ATTEMPTS="50",
        OUTBOX_RETRY_BASE_SECONDS="0.1",
        OUTBOX_RETRY_MAX_SECONDS="0.4",
    )
    shop = shop_factory([processes.start_formation(patient)])
    book, buyer = shop.add_book(), [shop.shopper()]  # signed up (and welcomed) while the server accepts
    # The welcome goes out before the refusals start, or it would fail with the receipts.
    wait_for(lambda: _sent(shop, "welcome") == 1, 30, what="the buyer's welcome e-mail sent")

    # Refused, then accepted: retried with backoff, delivered once.
    sink.refuse_data = "451 4.3.0 Try again later"
    first = shop.checkouts(5, book, shoppers=buyer)
    wait_for(lambda: _min_receipt_attempts(shop) >= 2, 30, what="each receipt refused at least twice")
    sink.refuse_data = None
    shop.wait_until_all_receipts_settle(5, timeout=30)
    assert_one_receipt_each(sink, first)

    # Refused for good: failed after the bound, with the error; then the CLI sends each once.
    processes["worker"].terminate()
    bounded = {**patient, "OUTBOX_MAX_ATTEMPTS": "4"}
    processes.start("worker", bounded, label="bounded worker")
    sink.refuse_data = "451 4.3.0 Try again later"
    second = shop.checkouts(4, book, shoppers=buyer)
    shop.wait_until_all_receipts_settle(4, timeout=30, state="failed")
    with shop.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT kind, attempts, last_error FROM outbox_messages WHERE state = 'failed'")
        ).all()
    assert len(rows) == 4 and all(
        kind == "order_placed" and attempts == 4 and "451" in error for kind, attempts, error in rows
    ), rows
    sink.refuse_data = None
    result = run_command("flask --app blasto outbox retry --all-failed", bounded)
    assert result.returncode == 0 and "Reopened 4; queued 4." in result.stdout, result.stdout + result.stderr
    shop.wait_until_all_receipts_settle(9, timeout=30)
    assert_one_receipt_each(sink, {**first, **second})
    again = run_command("flask --app blasto outbox retry --all-failed", bounded)
    assert "Reopened 0" in again.stdout


def _sent(shop: Shop, kind: str) -> int:
    with shop.engine.connect() as connection:
        return connection.execute(
            text("SELECT count(*) FROM outbox_messages WHERE kind = :kind AND state = 'sent'"), {"kind": kind}
        ).scalar_one()


def _min_receipt_attempts(shop: Shop) -> int:
    with shop.engine.connect() as connection:
        return connection.execute(
            text("SELECT coalesce(min(attempts), 0) FROM outbox_messages WHERE kind = 'order_placed'")
        ).scalar_one()


def test_sigterm_to_the_worker_while_it_sends_loses_and_doubles_nothing(
    processes, migrated_postgres, redis_url, sink, shop_factory
):
    sink.delay_seconds = 1.0
    env = receipts_env(migrated_postgres, redis_url, sink.url)
    shop = shop_factory([processes.start_formation(env)])
    book = shop.add_book()
    bought = shop.checkouts(5, book, clients=2)
    email, token = shop.shopper()
    bought[shop.buy(token, book, request_id="checkout-sigterm-1")] = email
    wait_for(lambda: sink.in_flight == 2, 20, interval=0.01, what="both worker processes sending")
    received_before = len(sink.received)

    started = time.monotonic()
    processes["worker"].terminate(timeout=30)  # SIGTERM to every process, as Heroku does
    stopped_in = time.monotonic() - started
    assert stopped_in < 25, f"the worker took {stopped_in:.1f} s to stop: Heroku kills at 30 s"
    assert len(sink.received) >= received_before + 2, "the sends in flight finished before the worker exited"

    processes["worker"].start()  # the new dyno
    shop.wait_until_all_receipts_settle(6, timeout=60)
    assert_one_receipt_each(sink, bought)
    # The worker's line names the request that owed the receipt.
    assert re.search(r'request_id=checkout-sigterm-1 msg="e-mail sent"', processes["worker"].output())


def test_production_without_smtp_says_so_once_and_keeps_receipts_pending(
    processes, migrated_postgres, redis_url, shop_factory
):
    env = receipts_env(migrated_postgres, redis_url, "", MAIL_FROM="")
    shop = shop_factory([processes.start_formation(env)])
    worker = processes["worker"]
    worker.wait_for_output("SMTP_URL is not set: receipts and welcome e-mails stay pending until it is", timeout=30)
    bought = shop.checkouts(3, shop.add_book(), clients=1)
    processes["clock"].wait_for_output("Sending due task outbox-sweep", timeout=30)  # the sweep ran meanwhile
    assert shop.receipt_states() == {"pending": len(bought)}
    assert worker.output().count("SMTP_URL is not set") == 1


def test_receipts_on_the_embedded_defaults(start_stack, tmp_path, sink):
    """SQLite and the server-less broker: the same path, from a fresh clone with Procfile.dev."""
    import dev
    from tests.e2e.test_stack import fresh_copy

    clone = fresh_copy(tmp_path / "clone")
    dev.write_dotenv(clone)
    env = process_env(
        BLASTO_ENV=None, SECRET_KEY=None, DATABASE_URL=None, REDIS_URL=None, SMTP_URL=sink.url, MAIL_FROM=MAIL_FROM
    )
    stack = start_stack(["start"], env, cwd=clone)
    stack.wait_ready()
    shop = Shop([stack.base], f"sqlite:///{clone / 'instance' / 'blasto.sqlite3'}")
    try:
        email, token = shop.shopper()
        with shop.engine.begin() as connection:
            book = connection.execute(text("SELECT id FROM products ORDER BY id LIMIT 1")).scalar()
            if book is None:
                book = connection.execute(
                    text(
                        "INSERT INTO products (title, author, description, price_cents, stock, created_at) VALUES ('Embedded', 'A. Author', '', 500, 5, CURRENT_TIMESTAMP) RETURNING id"
                    )
                ).scalar_one()
        purchase = shop.buy(token, book)
        shop.wait_until_all_receipts_settle(1, timeout=30)
    finally:
        shop.close()
    assert_one_receipt_each(sink, {purchase: email})
    welcome = [message for message in sink.for_recipient(email) if message.subject == "Welcome to Blasto"]
    assert len(welcome) == 1


def test_a_receipt_follows_each_payment_once_and_never_an_unpaid_order(
    processes, migrated_postgres, redis_url, sink, shop_factory, app_factory, tmp_path
):
    """The shop marks some orders paid (the domain's move, as the admin page does): exactly those get a receipt."""
    env = receipts_env(migrated_postgres, redis_url, sink.url)
    shop = shop_factory([processes.start_formation(env)])
    bought = shop.checkouts(12, shop.add_book(), clients=3)
    shop.wait_until_all_receipts_settle(12, timeout=30)  # the order-placed e-mails
    assert shop.receipt_states("receipt") == {}, "no receipt before the money is in"

    uri = database_uri(migrated_postgres, None)
    office = app_factory(
        SQLALCHEMY_DATABASE_URI=uri,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(uri, 2),
        CELERY=celery_config(redis_url, tmp_path, {}),
        MAIL=MailSettings(mode=SMTP, sender=MAIL_FROM, smtp=SmtpSettings(host="127.0.0.1", port=sink.port)),
    )
    paid = dict(sorted(bought.items())[::2])
    with office.app_context():
        for purchase_id in paid:
            move(purchase_id, PAY, ADMIN)  # its commit queues the receipt to the worker

    shop.wait_until_all_receipts_settle(len(paid), timeout=30, kind="receipt")
    assert_one_receipt_each(sink, paid, kind="receipt")
    assert_one_receipt_each(sink, bought)  # still one order-placed e-mail each
