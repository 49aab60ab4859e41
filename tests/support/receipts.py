"""Shopping through a running stack and counting the e-mails each checkout owes.

Shared by the receipt fault tests and the receipt benchmark: real shoppers
over HTTP (sign-up, token, `POST /api/v1/purchases`), the outbox read straight
from Postgres, and the SMTP sink's messages grouped by the purchase their
Message-ID names. A checkout owes the order-placed e-mail (how to pay); the
receipt is owed only when the order is paid, so the checkout e-mail is what
these count unless told otherwise.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import create_engine, text

from blasto.core.config import database_uri
from tests.support.factories import SHIPPING_ADDRESS
from tests.support.http_client import PASSWORD, new_account  # noqa: F401  (PASSWORD: the tests' password, imported from here)
from tests.support.processes import procfile, production_env, run_command, wait_for

MAIL_FROM = "Blasto <shop@blasto.example>"
RECEIPT_ID = re.compile(r"^<receipt\.(\d+)\.\d+@blasto\.example>$")
CHECKOUT_EMAIL = "order_placed"  # the one e-mail every checkout owes, in its transaction


def email_id(kind: str) -> re.Pattern:
    """The Message-ID of an order's e-mail of this kind; its group is the purchase id."""
    return re.compile(rf"^<{re.escape(kind)}\.(\d+)\.\d+@blasto\.example>$")


def receipts_env(database_url: str, redis_url: str, smtp_url: str, **extra: str) -> dict:
    """Production settings with fast retries and a fast sweep, so faults heal within seconds."""
    settings = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SMTP_URL": smtp_url,
        "MAIL_FROM": MAIL_FROM,
        "GUNICORN_THREADS": "8",
        "OUTBOX_SWEEP_EVERY_SECONDS": "0.5",
        "OUTBOX_SWEEP_AFTER_SECONDS": "2",
        "OUTBOX_RETRY_BASE_SECONDS": "0.2",
        "OUTBOX_RETRY_MAX_SECONDS": "1",
        "LOG_LEVEL": "INFO",
        # Many shoppers from one address: the benchmark and the fault tests are not an attack.
        "RATELIMIT_ENABLED": "false",
    }
    settings.update(extra)
    return production_env(**settings)


def release(env: dict) -> None:
    result = run_command(procfile()["release"], env)
    assert result.returncode == 0, result.stderr + result.stdout


class Shop:
    """Shoppers buying through one or more web processes, round robin."""

    def __init__(self, bases: list[str], database_url: str):
        self.bases = bases
        self._next_base = itertools.cycle(bases)
        self.engine = create_engine(database_uri(database_url, None))

    def close(self) -> None:
        self.engine.dispose()

    def add_book(self, stock: int = 1_000_000, price_cents: int = 1250) -> int:
        with self.engine.begin() as connection:
            return connection.execute(
                text(
                    "INSERT INTO products (title, author, description, price_cents, stock, created_at) VALUES ('Receipt Test', 'A. Author', '', :price, :stock, now()) RETURNING id"
                ),
                {"stock": stock, "price": price_cents},
            ).scalar_one()

    def shopper(self) -> tuple[str, str]:
        """(e-mail, bearer token) of a new account."""
        return new_account(next(self._next_base))

    def buy(
        self, token: str, product_id: int, session: requests.Session | None = None, request_id: str | None = None
    ) -> int:
        base = next(self._next_base)
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
        if request_id:
            headers["X-Request-Id"] = request_id
        response = (session or requests).post(
            f"{base}/api/v1/purchases",
            json={"items": [{"product_id": product_id, "quantity": 1}], "shipping_address": SHIPPING_ADDRESS},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 201, f"{response.status_code} {response.text}"
        return response.json()["id"]

    def checkouts(
        self, count: int, product_id: int, clients: int = 8, shoppers: list[tuple[str, str]] | None = None
    ) -> dict[int, str]:
        """`count` purchases from `clients` parallel shoppers (new ones unless given): {purchase id: e-mail}."""
        shoppers = shoppers or [self.shopper() for _ in range(clients)]
        clients = len(shoppers)
        share = [count // clients + (1 if i < count % clients else 0) for i in range(clients)]

        def run(index: int) -> list[tuple[int, str]]:
            email, token = shoppers[index]
            bought = []
            with requests.Session() as session:
                for _ in range(share[index]):
                    bought.append((self.buy(token, product_id, session), email))
            return bought

        with ThreadPoolExecutor(clients) as pool:
            return dict(pair for result in pool.map(run, range(clients)) for pair in result)

    def receipt_states(self, kind: str = CHECKOUT_EMAIL) -> Counter:
        """How many e-mails of this kind (the checkout's unless named) are in each state."""
        with self.engine.connect() as connection:
            return Counter(
                dict(
                    connection.execute(
                        text("SELECT state, count(*) FROM outbox_messages WHERE kind = :kind GROUP BY state"),
                        {"kind": kind},
                    ).all()
                )
            )

    def wait_until_all_receipts_settle(
        self, count: int, timeout: float, state: str = "sent", kind: str = CHECKOUT_EMAIL
    ) -> None:
        wait_for(
            lambda: self.receipt_states(kind).get(state, 0) >= count,
            timeout,
            interval=0.2,
            what=f"{count} {kind} e-mails {state} (now {dict(self.receipt_states(kind))})",
        )


def receipts_by_purchase(sink, kind: str = CHECKOUT_EMAIL) -> dict[int, list]:
    grouped: dict[int, list] = {}
    pattern = email_id(kind)
    for message in sink.received:
        match = pattern.match(message.message_id or "")
        if match:
            grouped.setdefault(int(match.group(1)), []).append(message)
    return grouped


def assert_one_receipt_each(sink, bought: dict[int, str], kind: str = CHECKOUT_EMAIL) -> None:
    """Every purchase has exactly one e-mail of this kind, to its own buyer, and no other purchase has one."""
    grouped = receipts_by_purchase(sink, kind)
    doubled = {pid: len(messages) for pid, messages in grouped.items() if len(messages) > 1}
    assert not doubled, f"{kind} e-mails sent twice: {doubled}"
    assert sorted(grouped) == sorted(bought), (
        f"missing {sorted(set(bought) - set(grouped))[:10]}, unexpected {sorted(set(grouped) - set(bought))[:10]}"
    )
    for pid, (message,) in grouped.items():
        assert message.rcpt_tos == (bought[pid],)
        assert f"order #{pid}" in message.subject
