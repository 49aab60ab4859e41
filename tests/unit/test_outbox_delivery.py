"""The outbox in process: owed in the checkout's transaction, queued after commit, sent exactly once.

Real SQLite and real Postgres (the conftest's fixtures), a real SMTP server
(tests.support.smtp_sink) that the app reaches through smtplib, and the
embedded SQLite broker of the test app, read straight from its file to see
what was queued. Nothing is mocked; every wait is on a condition or a deadline.
"""

from __future__ import annotations

import logging
import random
import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.exc import IntegrityError

from blasto.core.config import celery_config, database_uri, engine_options
from blasto.core.extensions import db
from blasto.core.logs import LogfmtFormatter, request_id_var
from blasto.core.mail_settings import HOLD, LOG, MailSettings
from blasto.models import OutboxMessage, Purchase, User
from blasto.models.base import utcnow
from blasto.models.outbox import FAILED, ORDER_PLACED, PENDING, RECEIPT, SENT, WELCOME
from blasto.models.purchase import ADMIN
from blasto.outbox.delivery import backoff, deliver, due_for_sweep, reopen
from blasto.outbox.dispatch import SEND_TASK
from blasto.outbox.records import ACCOUNT_DELETED, receives_no_mail
from blasto.outbox.tasks import send as send_task
from blasto.shop.account_settings import DELETED_EMAIL, delete_account
from blasto.shop.accounts import EmailTaken, sign_up
from blasto.shop.checkout import InsufficientStock, UnknownProducts, place_order
from blasto.shop.orders import PAY, move
from tests.support.embedded_broker import queued_tasks
from tests.support.factories import SHIPPING_ADDRESS, make_book, make_user, shipping
from tests.support.processes import free_port
from tests.support.report_databases import sqlite_copy
from tests.support.smtp_sink import SmtpSink

# Importing blasto.outbox.tasks (above) registers the send and sweep tasks on every Celery app.
SENDER = "Blasto <shop@blasto.example>"
PUBLIC_URL = "https://shop.blasto.example"
EMAIL = "ada@example.com"
CHECKOUT_ID = "checkout-7f3a"
FAST = {
    "OUTBOX_MAX_ATTEMPTS": 3,
    "OUTBOX_RETRY_BASE_SECONDS": 0.05,
    "OUTBOX_RETRY_MAX_SECONDS": 0.2,
    "PUBLIC_URL": PUBLIC_URL,
}
SWEEP_TASK = "blasto.outbox.sweep"


# -- fixtures and helpers -------------------------------------------------------


def queued(tmp_path) -> list[tuple[int, str | None]]:
    """(outbox id, request id header) of each send task in the embedded broker, in order."""
    return queued_tasks(tmp_path, SEND_TASK, "blasto_request_id")


def queued_ids(tmp_path) -> list[int]:
    return [outbox_id for outbox_id, _ in queued(tmp_path)]


class Shop:
    """A user and three books on a migrated app whose context is pushed."""

    def __init__(self, app, sink: SmtpSink, tmp_path):
        self.app, self.sink, self.tmp_path = app, sink, tmp_path
        self.user_id = make_user(app, EMAIL, name="Ada Lovelace")
        self.emma = make_book(app, "Emma", price_cents=1199, stock=10)
        self.pride = make_book(app, "Pride & Prejudice", price_cents=999, stock=10)
        self.miserables = make_book(app, "Les Misérables", price_cents=2500, stock=1)

    @property
    def celery(self):
        return self.app.extensions["celery"]

    def buy(
        self, lines: dict[int, int], request_id: str | None = CHECKOUT_ID, key: str | None = None
    ) -> tuple[int, int]:
        """Check out as a request with this id would; returns (purchase id, its order-placed e-mail's outbox id)."""
        token = request_id_var.set(request_id)
        try:
            purchase, created = place_order(self.user_id, lines, shipping(), key)
        finally:
            request_id_var.reset(token)
        assert created
        return purchase.id, self.email_id(purchase.id)

    def pay(self, purchase_id: int) -> int:
        """The shop records the payment; returns the outbox id of the receipt it owes."""
        move(purchase_id, PAY, ADMIN)
        return self.email_id(purchase_id, RECEIPT)

    def email_id(self, purchase_id: int, kind: str = ORDER_PLACED) -> int:
        outbox_id = db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == f"{kind}:{purchase_id}"))
        db.session.rollback()
        return outbox_id

    def row(self, outbox_id: int) -> dict:
        """The row as the database has it now (no session cache), transaction ended."""
        found = (
            db.session.execute(select(OutboxMessage.__table__).where(OutboxMessage.id == outbox_id)).mappings().one()
        )
        db.session.rollback()
        return dict(found)

    def rows(self) -> list[dict]:
        found = [
            dict(r) for r in db.session.execute(select(OutboxMessage.__table__).order_by(OutboxMessage.id)).mappings()
        ]
        db.session.rollback()
        return found

    def count(self, model) -> int:
        value = db.session.scalar(select(func.count()).select_from(model))
        db.session.rollback()
        return value

    def make_due(self, seconds_ago: float) -> None:
        """Every row fell due this long ago (its queue message was lost)."""
        db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=seconds_ago)))
        db.session.commit()

    def sql(self, statement: str, **params) -> None:
        db.session.execute(text(statement), params)
        db.session.commit()

    def deliver_in_thread(self, outbox_id: int) -> str:
        """deliver() from another thread with its own app context (and session), as a worker would."""
        return in_thread(self.app, lambda: deliver(outbox_id).state, what=f"deliver({outbox_id})")


def in_thread(app, work, timeout: float = 5.0, what: str = "the call"):
    """work() in a thread of its own, in its own app context; a failure, not a hang, if it blocks.

    The thread is not waited for on timeout: it is blocked on a lock the test
    holds, which the test releases as it unwinds.
    """

    def run():
        with app.app_context():
            return work()

    pool = ThreadPoolExecutor(1)
    try:
        return pool.submit(run).result(timeout=timeout)
    except TimeoutError:
        pytest.fail(f"{what} waited {timeout:g} s for a row another transaction holds instead of skipping it")
    finally:
        pool.shutdown(wait=False)


@pytest.fixture
def build_shop(app_factory, sink, tmp_path, sqlite_template):
    """build_shop(postgres_url=None, **config) -> Shop, inside the app's context until the test ends.

    The database is a copy of the one migrated once per session: `postgres_url`
    a clone (take `migrated_postgres` or `database` before this fixture, so it
    outlives the app), else the template's SQLite file in tmp_path.
    """
    contexts = []

    def build(postgres_url: str | None = None, **overrides) -> Shop:
        config = {"MAIL": sink.mail_settings(), **FAST, **overrides}
        if postgres_url:
            uri = database_uri(postgres_url, None)
            config.update(SQLALCHEMY_DATABASE_URI=uri, SQLALCHEMY_ENGINE_OPTIONS=engine_options(uri, 5))
        elif not (tmp_path / "blasto.sqlite3").exists():
            sqlite_copy(sqlite_template, tmp_path)
        app = app_factory(**config)
        context = app.app_context()
        context.push()
        contexts.append(context)
        return Shop(app, sink, tmp_path)

    yield build
    for context in reversed(contexts):
        db.session.remove()
        db.engine.dispose()
        context.pop()


@pytest.fixture
def shop(database, build_shop) -> Shop:
    return build_shop(database)


@pytest.fixture
def sqlite_shop(build_shop) -> Shop:
    return build_shop()


@pytest.fixture
def pg_shop(migrated_postgres, build_shop) -> Shop:
    return build_shop(migrated_postgres)


class _Cells(HTMLParser):
    """The text of each table row's cells: [["Emma", "$11.99", "2", "$23.98"], ...]."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None


def table_rows(html: str) -> list[list[str]]:
    parser = _Cells()
    parser.feed(html)
    return parser.rows


def records(caplog, fragment: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if fragment in record.getMessage()]


# -- owed in the same transaction -------------------------------------------------


def test_checkout_owes_one_pending_order_email_and_no_receipt(shop):
    purchase_id, outbox_id = shop.buy({shop.emma: 2, shop.pride: 1})
    rows = shop.rows()
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == outbox_id
    assert (row["kind"], row["key"], row["state"]) == (ORDER_PLACED, f"order_placed:{purchase_id}", PENDING)
    assert (row["recipient"], row["user_id"], row["purchase_id"]) == (EMAIL, shop.user_id, purchase_id)
    assert row["attempts"] == 0 and row["sent_at"] is None and row["last_error"] is None
    assert row["request_id"] == CHECKOUT_ID
    assert row["link"] == f"{PUBLIC_URL}/purchases/{purchase_id}"


def test_an_order_email_that_cannot_be_written_takes_the_purchase_with_it(shop):
    # Someone already owes "order_placed:1": the checkout's e-mail row cannot be
    # inserted, and because it shares the purchase's transaction, the purchase
    # and the stock it took are rolled back too.
    db.session.add(OutboxMessage(kind=ORDER_PLACED, key="order_placed:1", recipient=EMAIL, user_id=shop.user_id))
    db.session.commit()
    with pytest.raises(IntegrityError):
        place_order(shop.user_id, {shop.emma: 3}, shipping())
    db.session.rollback()
    assert shop.count(Purchase) == 0
    assert db.session.scalar(text("SELECT stock FROM products WHERE id = :id"), {"id": shop.emma}) == 10
    assert [row["key"] for row in shop.rows()] == ["order_placed:1"]


def test_failed_checkouts_owe_nothing(sqlite_shop):
    shop = sqlite_shop
    with pytest.raises(InsufficientStock):
        place_order(shop.user_id, {shop.emma: 1, shop.miserables: 2}, shipping())
    with pytest.raises(UnknownProducts):
        place_order(shop.user_id, {shop.emma: 1, 999_999: 1}, shipping())
    assert shop.rows() == [] and shop.count(Purchase) == 0


def test_an_idempotent_replay_owes_nothing_more(sqlite_shop):
    shop = sqlite_shop
    first, outbox_id = shop.buy({shop.emma: 1}, key="order-1")
    again, created = place_order(shop.user_id, {shop.emma: 1}, shipping(), "order-1")
    assert not created and again.id == first
    assert [row["id"] for row in shop.rows()] == [outbox_id]


def test_sign_up_owes_one_welcome_and_a_duplicate_owes_none(sqlite_shop):
    shop = sqlite_shop
    user = sign_up("grace@example.com", "Grace Hopper", "correct horse battery")
    with pytest.raises(EmailTaken):
        sign_up("grace@example.com", "Grace Again", "correct horse battery")
    rows = shop.rows()
    assert [(row["kind"], row["key"], row["recipient"], row["state"]) for row in rows] == [
        (WELCOME, f"welcome:{user.id}", "grace@example.com", PENDING)
    ]

    assert deliver(rows[0]["id"]).state == SENT
    (message,) = shop.sink.received
    assert message.subject == "Welcome to Blasto" and message.rcpt_tos == ("grace@example.com",)
    assert message.message_id == f"<welcome.{user.id}.{rows[0]['id']}@blasto.example>"
    assert "Grace Hopper" in message.message.get_body(("plain",)).get_content()


# -- deliver: exactly once ----------------------------------------------------------


def test_deliver_sends_the_receipt_once_with_both_parts(shop):
    purchase_id, _ = shop.buy({shop.emma: 2, shop.pride: 1, shop.miserables: 1})
    outbox_id = shop.pay(purchase_id)
    before = utcnow()

    outcome = deliver(outbox_id)

    assert outcome.state == SENT and outcome.retry_in is None
    (received,) = shop.sink.received
    assert received.mail_from == "shop@blasto.example" and received.rcpt_tos == (EMAIL,)
    message = received.message
    assert str(message["To"]) == EMAIL and str(message["From"]) == SENDER
    assert message["Subject"] == f"Your Blasto receipt for order #{purchase_id}"
    assert received.message_id == f"<receipt.{purchase_id}.{outbox_id}@blasto.example>"

    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert message.get_body(("plain",)) is not message.get_body(("html",))
    link = f"{PUBLIC_URL}/purchases/{purchase_id}"
    for title, quantity in (("Emma", 2), ("Pride & Prejudice", 1), ("Les Misérables", 1)):
        assert re.search(rf"^\s*{quantity} x {re.escape(title)} ", plain, re.MULTILINE), plain
    assert "Total: $58.97" in plain and link in plain  # 2 × 11.99 + 9.99 + 25.00
    rows = table_rows(html)
    assert ["Emma", "$11.99", "2", "$23.98"] in rows
    assert ["Pride & Prejudice", "$9.99", "1", "$9.99"] in rows
    assert ["Les Misérables", "$25.00", "1", "$25.00"] in rows
    assert ["Total", "$58.97"] in rows
    assert "Pride &amp; Prejudice" in html  # escaped in HTML, as the parser above undid
    assert f'href="{link}"' in html

    row = shop.row(outbox_id)
    assert row["state"] == SENT and row["attempts"] == 1 and row["last_error"] is None
    assert before <= row["sent_at"] <= utcnow()


def test_a_redelivered_message_sends_nothing_and_says_already_sent(shop, caplog):
    _, outbox_id = shop.buy({shop.emma: 1}, request_id="checkout-redelivery")
    assert deliver(outbox_id).state == SENT
    sent_at = shop.row(outbox_id)["sent_at"]
    caplog.clear()
    caplog.set_level(logging.INFO)

    assert deliver(outbox_id).state == "skipped"
    assert shop.celery.tasks[SEND_TASK].apply(args=[outbox_id]).get() == "skipped"

    assert len(shop.sink.received) == 1 and shop.sink.attempts == 1
    row = shop.row(outbox_id)
    assert row["state"] == SENT and row["attempts"] == 1 and row["sent_at"] == sent_at
    said = records(caplog, "already sent")
    assert len(said) == 2 and {record.request_id for record in said} == {"checkout-redelivery"}
    assert {record.outbox_id for record in said} == {outbox_id}


def test_the_send_task_delivers_and_carries_the_checkouts_request_id(sqlite_shop, caplog):
    shop = sqlite_shop
    caplog.set_level(logging.INFO)
    _, outbox_id = shop.buy({shop.emma: 1}, request_id="checkout-task")
    assert shop.celery.tasks[SEND_TASK].apply(args=[outbox_id]).get() == SENT
    assert len(shop.sink.received) == 1
    (sent,) = records(caplog, "e-mail sent")
    assert sent.request_id == "checkout-task" and sent.outbox_id == outbox_id


def test_concurrent_deliveries_of_one_row_send_one_message(shop):
    _, outbox_id = shop.buy({shop.emma: 1})
    workers = 5
    start = threading.Barrier(workers, timeout=10)

    def worker():
        with shop.app.app_context():
            start.wait()
            return deliver(outbox_id).state

    with ThreadPoolExecutor(workers) as pool:
        outcomes = Counter(future.result(timeout=30) for future in [pool.submit(worker) for _ in range(workers)])

    assert outcomes == Counter({SENT: 1, "skipped": workers - 1})
    assert len(shop.sink.received) == 1 and shop.sink.attempts == 1
    assert shop.row(outbox_id)["attempts"] == 1


def test_a_row_held_by_another_transaction_is_skipped_then_sent(pg_shop, caplog):
    shop = pg_shop
    _, outbox_id = shop.buy({shop.emma: 1})
    other = create_engine(shop.app.config["SQLALCHEMY_DATABASE_URI"])
    caplog.set_level(logging.INFO)
    try:
        with other.connect() as connection:
            holder = connection.begin()
            connection.execute(text("SELECT id FROM outbox_messages WHERE id = :id FOR UPDATE"), {"id": outbox_id})
            # Another worker has it: skipped at once (SKIP LOCKED), not waited for.
            assert shop.deliver_in_thread(outbox_id) == "skipped"
            assert shop.sink.received == [] and shop.sink.attempts == 0
            row = shop.row(outbox_id)
            assert row["state"] == PENDING and row["attempts"] == 0
            assert records(caplog, "being sent by another worker")
            holder.rollback()
        assert shop.deliver_in_thread(outbox_id) == SENT
    finally:
        other.dispose()
    assert len(shop.sink.received) == 1
    assert shop.row(outbox_id)["state"] == SENT


def test_the_sweep_skips_a_row_another_transaction_holds(pg_shop):
    shop = pg_shop
    _, held = shop.buy({shop.emma: 1})
    _, free = shop.buy({shop.pride: 1})
    shop.make_due(3600)
    other = create_engine(shop.app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with other.connect() as connection, connection.begin():
            connection.execute(text("SELECT id FROM outbox_messages WHERE id = :id FOR UPDATE"), {"id": held})
            assert in_thread(shop.app, lambda: due_for_sweep(30), what="due_for_sweep") == [free]
    finally:
        other.dispose()


# -- transient and permanent failures --------------------------------------------------


def test_a_4xx_is_retried_later_then_sent_once(shop):
    shop.app.config.update(OUTBOX_RETRY_BASE_SECONDS=30.0, OUTBOX_RETRY_MAX_SECONDS=600.0)
    _, outbox_id = shop.buy({shop.emma: 1})
    shop.sink.refuse_data = "451 4.3.0 Try again later"
    before = utcnow()

    outcome = deliver(outbox_id)

    assert outcome.state == "retry" and 15 <= outcome.retry_in <= 30
    row = shop.row(outbox_id)
    assert row["state"] == PENDING and row["attempts"] == 1 and row["sent_at"] is None
    assert "451" in row["last_error"] and "Try again later" in row["last_error"]
    assert row["next_attempt_at"] > utcnow()
    assert abs((row["next_attempt_at"] - before).total_seconds() - outcome.retry_in) < 5
    assert shop.sink.received == [] and shop.sink.attempts == 1

    shop.sink.refuse_data = None
    assert deliver(outbox_id).state == SENT
    assert len(shop.sink.received) == 1
    row = shop.row(outbox_id)
    assert row["state"] == SENT and row["attempts"] == 2 and row["last_error"] is None


def test_the_last_allowed_attempt_fails_the_row(sqlite_shop):
    shop = sqlite_shop
    shop.app.config["OUTBOX_MAX_ATTEMPTS"] = 2
    _, outbox_id = shop.buy({shop.emma: 1})
    shop.sink.refuse_data = "451 4.3.0 Try again later"
    assert deliver(outbox_id).state == "retry"
    outcome = deliver(outbox_id)
    assert outcome.state == FAILED and outcome.retry_in is None
    row = shop.row(outbox_id)
    assert row["state"] == FAILED and row["attempts"] == 2 and "451" in row["last_error"] and row["sent_at"] is None
    assert deliver(outbox_id).state == "skipped"  # failed stays failed until `outbox retry`
    assert shop.sink.received == [] and shop.sink.attempts == 2


def test_a_refused_recipient_fails_at_once(sqlite_shop):
    shop = sqlite_shop
    _, outbox_id = shop.buy({shop.emma: 1})
    shop.sink.refuse_recipients = {EMAIL.upper()}
    assert deliver(outbox_id).state == FAILED
    row = shop.row(outbox_id)
    assert row["state"] == FAILED and row["attempts"] == 1
    assert row["last_error"].startswith("recipient refused") and "550" in row["last_error"]
    assert shop.sink.received == []


def test_a_5xx_to_the_message_fails_at_once(sqlite_shop):
    shop = sqlite_shop
    _, outbox_id = shop.buy({shop.emma: 1})
    shop.sink.refuse_data = "554 5.6.0 Message rejected"
    assert deliver(outbox_id).state == FAILED
    row = shop.row(outbox_id)
    assert row["attempts"] == 1 and "554" in row["last_error"]


def test_an_answer_that_is_not_smtp_is_retried(sqlite_shop):
    shop = sqlite_shop
    _, outbox_id = shop.buy({shop.emma: 1})
    shop.sink.garbage = True
    outcome = deliver(outbox_id)
    assert outcome.state == "retry" and outcome.retry_in > 0
    row = shop.row(outbox_id)
    assert row["state"] == PENDING and row["attempts"] == 1 and "not SMTP" in row["last_error"]
    shop.sink.garbage = False
    assert deliver(outbox_id).state == SENT and len(shop.sink.received) == 1


def test_a_server_that_is_down_is_retried(sqlite_shop):
    shop = sqlite_shop
    _, outbox_id = shop.buy({shop.emma: 1})
    shop.sink.stop()
    outcome = deliver(outbox_id)
    assert outcome.state == "retry" and outcome.retry_in > 0
    row = shop.row(outbox_id)
    assert row["state"] == PENDING and row["attempts"] == 1 and "ConnectionRefusedError" in row["last_error"]
    shop.sink.start()
    assert deliver(outbox_id).state == SENT and len(shop.sink.received) == 1


def test_a_server_slower_than_the_timeout_is_retried(build_shop, sink):
    shop = build_shop(MAIL=sink.mail_settings(timeout=0.3))
    _, outbox_id = shop.buy({shop.emma: 1})
    sink.delay_seconds = 1.0
    assert deliver(outbox_id).state == "retry"
    assert shop.row(outbox_id)["state"] == PENDING and sink.received == []
    sink.delay_seconds = 0
    assert deliver(outbox_id).state == SENT and len(sink.received) == 1


def test_a_deleted_purchase_fails_its_receipt_and_says_so_under_the_checkouts_id(shop, caplog):
    purchase_id, outbox_id = shop.buy({shop.emma: 1}, request_id="checkout-deleted")
    shop.sql("DELETE FROM purchase_items WHERE purchase_id = :id", id=purchase_id)
    shop.sql("DELETE FROM purchases WHERE id = :id", id=purchase_id)
    caplog.set_level(logging.INFO)

    assert deliver(outbox_id).state == FAILED

    row = shop.row(outbox_id)
    assert row["state"] == FAILED and row["attempts"] == 1 and "purchase no longer exists" in row["last_error"]
    assert shop.sink.received == [] and shop.sink.attempts == 0
    (failed,) = records(caplog, "e-mail failed")
    assert failed.levelno == logging.ERROR and failed.request_id == "checkout-deleted"
    assert "purchase no longer exists" in failed.error


def test_an_address_that_is_not_one_fails_without_sending(sqlite_shop):
    shop = sqlite_shop
    _, outbox_id = shop.buy({shop.emma: 1})
    shop.sql("UPDATE users SET email = 'not an address' WHERE id = :id", id=shop.user_id)
    shop.sql("UPDATE outbox_messages SET recipient = 'not an address' WHERE id = :id", id=outbox_id)
    assert deliver(outbox_id).state == FAILED
    row = shop.row(outbox_id)
    assert row["state"] == FAILED and row["last_error"].startswith("undeliverable address")
    assert shop.sink.received == [] and shop.sink.attempts == 0


def test_a_recipient_that_breaks_the_header_fails_the_row_instead_of_raising(sqlite_shop):
    # Whatever the row holds, deliver() must settle it: an exception here
    # would roll back the claim and leave the row pending forever, re-queued
    # by every sweep (a poison message).
    shop = sqlite_shop
    _, outbox_id = shop.buy({shop.emma: 1})
    shop.sql(
        "UPDATE outbox_messages SET recipient = :bad WHERE id = :id",
        bad="ada@example.com\r\nBcc: all@example.com",
        id=outbox_id,
    )
    assert deliver(outbox_id).state == FAILED
    assert shop.row(outbox_id)["state"] == FAILED and shop.sink.received == []


# -- backoff ------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    attempt=st.integers(min_value=1, max_value=10_000),
    base=st.floats(min_value=0.01, max_value=3600),
    cap=st.floats(min_value=0.01, max_value=1800),
)
def test_backoff_is_exponential_capped_and_jittered_within_half_a_step(attempt, base, cap):
    step = min(cap, base * 2.0 ** min(attempt - 1, 100))
    delay = backoff(attempt, base, cap)
    assert step / 2 <= delay <= step
    assert delay <= cap


def test_backoff_doubles_until_the_cap():
    lower = [backoff(attempt, 1.0, 60.0) for attempt in range(1, 10)]
    for attempt, delay in enumerate(lower, start=1):
        step = min(60.0, 2.0 ** (attempt - 1))
        assert step / 2 <= delay <= step
    assert all(30 <= backoff(attempt, 1.0, 60.0) <= 60 for attempt in range(7, 40))


def test_backoff_jitter_spreads_over_the_half_step():
    random.seed(20261121)
    delays = [backoff(3, 1.0, 100.0) for _ in range(200)]  # step 4: within [2, 4]
    assert all(2 <= delay <= 4 for delay in delays)
    assert min(delays) < 2.5 and max(delays) > 3.5


# -- log and hold modes --------------------------------------------------------------------


def test_without_a_server_development_logs_the_whole_message_on_one_line(build_shop, caplog):
    shop = build_shop(MAIL=MailSettings(mode=LOG, sender=SENDER, log_body=True))
    purchase_id, outbox_id = shop.buy({shop.emma: 2})
    caplog.set_level(logging.INFO)

    assert deliver(outbox_id).state == SENT

    (logged,) = records(caplog, "logged instead")
    line = LogfmtFormatter().format(logged)
    assert "\n" not in line and "\r" not in line
    assert f"Message-ID: <order_placed.{purchase_id}.{outbox_id}@blasto.example>" in line
    assert f"Subject: Your Blasto order #{purchase_id}: how to pay" in line
    assert f"To: {EMAIL}" in line and "text/html" in line and "Total: $23.98" in line
    assert logged.request_id == CHECKOUT_ID
    row = shop.row(outbox_id)
    assert row["state"] == SENT and row["sent_at"] is not None
    assert shop.sink.received == []


def test_production_without_a_server_holds_every_message_pending(build_shop, tmp_path):
    shop = build_shop(MAIL=MailSettings(mode=HOLD, sender=SENDER))
    _, outbox_id = shop.buy({shop.emma: 1})
    assert queued(tmp_path) == []  # nothing could send it: not queued either
    shop.make_due(3600)

    assert deliver(outbox_id).state == "held"
    assert shop.celery.tasks[SWEEP_TASK].apply().get() == 0

    row = shop.row(outbox_id)
    assert row["state"] == PENDING and row["attempts"] == 0
    assert row["next_attempt_at"] < utcnow() - timedelta(minutes=30)  # the sweep did not touch it
    assert queued(tmp_path) == [] and shop.sink.received == []

    shop.app.config["MAIL"] = shop.sink.mail_settings()  # SMTP_URL set, processes restarted
    assert shop.celery.tasks[SWEEP_TASK].apply().get() == 1
    assert queued_ids(tmp_path) == [outbox_id]


# -- the sweep and reopening -------------------------------------------------------------------


def _owe(key: str, user_id: int, state: str = PENDING, due_in: float = 0.0, attempts: int = 0) -> int:
    message = OutboxMessage(
        kind=WELCOME,
        key=key,
        recipient=EMAIL,
        user_id=user_id,
        state=state,
        attempts=attempts,
        next_attempt_at=utcnow() + timedelta(seconds=due_in),
        last_error="boom" if state == FAILED else None,
        sent_at=utcnow() if state == SENT else None,
    )
    db.session.add(message)
    db.session.commit()
    return message.id


def test_due_for_sweep_picks_only_pending_rows_long_past_due_and_stamps_them(shop, tmp_path):
    lost = _owe("welcome:lost", shop.user_id, due_in=-100)
    older = _owe("welcome:older", shop.user_id, due_in=-500)
    recent = _owe("welcome:recent", shop.user_id, due_in=-5)
    later = _owe("welcome:later", shop.user_id, due_in=60)
    sent = _owe("welcome:sent", shop.user_id, state=SENT, due_in=-100)
    failed = _owe("welcome:failed", shop.user_id, state=FAILED, due_in=-100)
    before = utcnow()

    assert due_for_sweep(30) == sorted([lost, older])
    assert due_for_sweep(30) == []  # stamped due now: the next sweep leaves them alone

    stamped = {row["id"]: row for row in shop.rows()}
    for outbox_id in (lost, older):
        assert before <= stamped[outbox_id]["next_attempt_at"] <= utcnow()
        assert stamped[outbox_id]["state"] == PENDING
    assert stamped[recent]["next_attempt_at"] < before and stamped[later]["next_attempt_at"] > utcnow()
    assert stamped[sent]["state"] == SENT and stamped[failed]["state"] == FAILED
    assert due_for_sweep(3) == [recent]


def test_the_sweep_task_queues_what_it_finds(sqlite_shop, tmp_path):
    shop = sqlite_shop
    _, outbox_id = shop.buy({shop.emma: 1}, request_id=None)
    assert queued_ids(tmp_path) == [outbox_id]  # queued after the checkout's commit
    assert shop.celery.tasks[SWEEP_TASK].apply().get() == 0  # not yet due for the sweep
    shop.make_due(300)
    assert shop.celery.tasks[SWEEP_TASK].apply().get() == 1
    assert queued_ids(tmp_path) == [outbox_id, outbox_id]


def test_reopen_puts_failed_rows_back_and_leaves_the_others(sqlite_shop):
    shop = sqlite_shop
    failed_1 = _owe("welcome:f1", shop.user_id, state=FAILED, attempts=8)
    failed_2 = _owe("welcome:f2", shop.user_id, state=FAILED, attempts=3)
    sent = _owe("welcome:s", shop.user_id, state=SENT, attempts=1)
    pending = _owe("welcome:p", shop.user_id, attempts=2)

    assert reopen([failed_1, sent, pending, 999_999]) == [failed_1]
    rows = {row["id"]: row for row in shop.rows()}
    assert (rows[failed_1]["state"], rows[failed_1]["attempts"]) == (PENDING, 0)
    assert (rows[failed_2]["state"], rows[failed_2]["attempts"]) == (FAILED, 3)
    assert (rows[sent]["state"], rows[sent]["attempts"]) == (SENT, 1) and rows[sent]["sent_at"] is not None
    assert (rows[pending]["state"], rows[pending]["attempts"]) == (PENDING, 2)

    assert reopen(None) == [failed_2]
    assert reopen(None) == []
    assert Counter(row["state"] for row in shop.rows()) == Counter({PENDING: 3, SENT: 1})


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_lists_counts_and_failed_rows_with_their_error(sqlite_shop):
    shop = sqlite_shop
    _, sent = shop.buy({shop.emma: 1})
    assert deliver(sent).state == SENT
    _, failed = shop.buy({shop.pride: 1})
    shop.sink.refuse_recipients = {EMAIL}
    assert deliver(failed).state == FAILED
    _, pending = shop.buy({shop.emma: 1})
    runner = shop.app.test_cli_runner()

    result = runner.invoke(args=["outbox", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "pending=1  sent=1  failed=1  withdrawn=0"
    assert [int(line.split()[0]) for line in lines[1:]] == [pending, failed, sent]  # newest first
    assert "recipient refused" in next(line for line in lines if line.startswith(f"{failed} "))

    result = runner.invoke(args=["outbox", "list", "--state", "failed"])
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()[1:]] == [str(failed)]

    assert runner.invoke(args=["outbox", "list", "--state", "lost"]).exit_code == 2


def test_cli_retry_all_failed_reopens_and_queues_then_it_is_sent_once(sqlite_shop, tmp_path):
    shop = sqlite_shop
    _, outbox_id = shop.buy({shop.emma: 1})
    shop.sink.refuse_recipients = {EMAIL}
    assert deliver(outbox_id).state == FAILED
    before = queued_ids(tmp_path)

    result = shop.app.test_cli_runner().invoke(args=["outbox", "retry", "--all-failed"])

    assert result.exit_code == 0, result.output
    assert "Reopened 1; queued 1." in result.output
    assert queued_ids(tmp_path) == [*before, outbox_id]
    row = shop.row(outbox_id)
    assert row["state"] == PENDING and row["attempts"] == 0
    shop.sink.refuse_recipients = set()
    assert deliver(outbox_id).state == SENT
    assert deliver(outbox_id).state == "skipped"
    assert len(shop.sink.received) == 1


def test_cli_retry_of_a_sent_row_leaves_it_alone_and_says_so(sqlite_shop, tmp_path):
    shop = sqlite_shop
    _, outbox_id = shop.buy({shop.emma: 1})
    assert deliver(outbox_id).state == SENT
    before = queued_ids(tmp_path)

    result = shop.app.test_cli_runner().invoke(args=["outbox", "retry", str(outbox_id)])

    assert result.exit_code == 0, result.output
    assert f"left alone: {outbox_id}" in result.output and "Reopened 0; queued 0." in result.output
    assert shop.row(outbox_id)["state"] == SENT
    assert queued_ids(tmp_path) == before
    assert deliver(outbox_id).state == "skipped" and len(shop.sink.received) == 1


@pytest.mark.parametrize("args", [[], ["3", "--all-failed"], ["0"], ["seven"]])
def test_cli_retry_needs_ids_or_all_failed(sqlite_shop, args):
    result = sqlite_shop.app.test_cli_runner().invoke(args=["outbox", "retry", *args])
    assert result.exit_code == 2
    assert "Usage:" in result.output


# -- dispatch: only after the commit ----------------------------------------------------------


def test_a_rolled_back_row_is_never_queued_and_a_committed_one_is(sqlite_shop, tmp_path):
    shop = sqlite_shop
    doomed = OutboxMessage(kind=WELCOME, key="welcome:doomed", recipient=EMAIL, user_id=shop.user_id)
    db.session.add(doomed)
    db.session.flush()
    assert doomed.id is not None
    db.session.rollback()
    assert queued(tmp_path) == [] and shop.rows() == []

    kept = OutboxMessage(kind=WELCOME, key="welcome:kept", recipient=EMAIL, user_id=shop.user_id)
    db.session.add(kept)
    assert queued(tmp_path) == []
    db.session.commit()
    assert queued_ids(tmp_path) == [kept.id]  # once, and not the rolled-back one too


def test_checkouts_queue_exactly_their_new_receipts_with_the_request_id(sqlite_shop, tmp_path):
    shop = sqlite_shop
    with pytest.raises(InsufficientStock):
        place_order(shop.user_id, {shop.miserables: 5}, shipping())
    assert queued(tmp_path) == []
    _, first = shop.buy({shop.emma: 1}, request_id="checkout-one")
    _, second = shop.buy({shop.pride: 1}, request_id="checkout-two", key="k")
    place_order(shop.user_id, {shop.pride: 1}, shipping(), "k")  # a replay owes and queues nothing
    assert queued(tmp_path) == [(first, "checkout-one"), (second, "checkout-two")]


def test_in_a_request_the_send_is_queued_after_the_response_has_gone(db_app, tmp_path):
    # No app context is pushed around these requests: each gets its own, as under gunicorn.
    app = db_app
    emma = make_book(app, "Emma", stock=5)

    def outbox_id(key: str) -> int:
        with app.app_context():
            return db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == key))

    client = app.test_client()
    response = client.post(
        "/api/v1/users",
        json={"email": "lin@example.com", "password": "correct horse battery", "name": "Lin"},
        headers={"X-Request-Id": "signup-lin"},
    )
    assert response.status_code == 201, response.get_json()
    welcome = outbox_id(f"welcome:{response.get_json()['id']}")
    assert welcome is not None
    assert queued(tmp_path) == []  # committed, but the response has not gone yet
    response.close()
    assert queued(tmp_path) == [(welcome, "signup-lin")]

    token = client.post("/api/v1/tokens", auth=("lin@example.com", "correct horse battery"))
    assert token.status_code == 201
    headers = {"Authorization": f"Bearer {token.get_json()['token']}", "X-Request-Id": "checkout-lin"}
    with client.post(
        "/api/v1/purchases",
        json={"items": [{"product_id": emma, "quantity": 1}], "shipping_address": SHIPPING_ADDRESS},
        headers=headers,
    ) as bought:
        assert bought.status_code == 201
        purchase_id = bought.get_json()["id"]
        assert len(queued(tmp_path)) == 1
    receipt = outbox_id(f"order_placed:{purchase_id}")
    assert queued(tmp_path) == [(welcome, "signup-lin"), (receipt, "checkout-lin")]

    with client.post(
        "/api/v1/purchases",
        json={"items": [{"product_id": emma, "quantity": 9}], "shipping_address": SHIPPING_ADDRESS},
        headers=headers,
    ) as refused:
        assert refused.status_code == 409
    with client.post(
        "/api/v1/purchases",
        json={"items": [{"product_id": emma, "quantity": 1}], "shipping_address": SHIPPING_ADDRESS},
        headers={**headers, "Idempotency-Key": "k1"},
    ) as first:
        assert first.status_code == 201
    with client.post(
        "/api/v1/purchases",
        json={"items": [{"product_id": emma, "quantity": 1}], "shipping_address": SHIPPING_ADDRESS},
        headers={**headers, "Idempotency-Key": "k1"},
    ) as replay:
        assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert [item for item, _ in queued(tmp_path)] == [
        welcome,
        receipt,
        outbox_id(f"order_placed:{first.get_json()['id']}"),
    ]


def test_a_broker_outage_fails_nothing_and_the_sweep_finds_the_row(build_shop, tmp_path, caplog):
    shop = build_shop(CELERY=celery_config(f"redis://127.0.0.1:{free_port()}/0", tmp_path, {}))  # nobody listens there
    caplog.set_level(logging.INFO)

    _, outbox_id = shop.buy({shop.emma: 1}, request_id="checkout-outage")

    assert shop.count(Purchase) == 1
    assert shop.row(outbox_id)["state"] == PENDING
    (warned,) = records(caplog, "the sweep will queue it")
    assert warned.outbox_ids == str(outbox_id) and warned.request_id == "checkout-outage"
    shop.make_due(300)
    assert due_for_sweep(30) == [outbox_id]
    assert deliver(outbox_id).state == SENT and len(shop.sink.received) == 1


def test_the_send_task_drops_a_malformed_id_without_raising(sqlite_shop, caplog):
    shop = sqlite_shop
    caplog.set_level(logging.INFO)
    task = shop.celery.tasks[SEND_TASK]
    assert task.apply(args=["x"]).get() == "malformed"
    assert task.apply(args=[True]).get() == "malformed"
    assert task.apply(args=[None]).get() == "malformed"
    assert send_task.run("12") == "malformed"  # the task's body, called directly in this app context
    assert len(records(caplog, "malformed id")) == 4
    assert task.apply(args=[424242]).get() == "skipped"  # a row that does not exist
    assert records(caplog, "does not exist")
    assert shop.sink.received == []


def test_the_tls_context_is_made_once_per_process_and_only_for_tls():
    from blasto.mail import transport

    transport.tls_context.cache_clear()
    first = transport.tls_context()
    assert transport.tls_context() is first and transport.tls_context.cache_info().misses == 1


def test_a_deleted_accounts_later_order_emails_are_on_record_never_queued_nor_sent(sqlite_shop):
    """Its orders stay the shop's: shipping or refunding one later owes the e-mail on record only.

    The account's address is then a placeholder in the .invalid domain (RFC 2606), which no
    server takes mail for; even `flask outbox retry` leaves it unsent.
    """
    purchase_id, _ = sqlite_shop.buy({sqlite_shop.emma: 1})
    user = db.session.get(User, sqlite_shop.user_id)
    delete_account(user)
    before = queued_ids(sqlite_shop.tmp_path)
    receipt_id = sqlite_shop.pay(purchase_id)
    row = sqlite_shop.row(receipt_id)
    assert (row["state"], row["last_error"]) == (FAILED, ACCOUNT_DELETED)
    assert row["recipient"] == DELETED_EMAIL.format(id=sqlite_shop.user_id)
    assert queued_ids(sqlite_shop.tmp_path) == before, "nothing queued for it"
    assert reopen([receipt_id]) == [receipt_id]  # an admin's `flask outbox retry`
    assert deliver(receipt_id).state == FAILED
    assert sqlite_shop.row(receipt_id)["state"] == FAILED and sqlite_shop.sink.received == []


@pytest.mark.parametrize(
    ("address", "receives"),
    [
        ("deleted-7@deleted.invalid", False),
        ("someone@INVALID", False),
        ("someone@mail.invalid.", False),
        ("someone@invalid.example.com", True),
        ("ada@example.com", True),
    ],
)
def test_only_the_invalid_top_level_domain_receives_no_mail(address, receives):
    assert receives_no_mail(address) is not receives
