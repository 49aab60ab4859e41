"""The release on a live shop: checkouts go on while it migrates, and a lock it cannot get makes it give up, not hang.

The web process is the Procfile's gunicorn on a database at the committed
head; client threads keep buying through the API. The release is the
Procfile's own line, pointed at a copy of migrations/ with two test-only
revisions on top (tests.support.migrations): an index built concurrently,
then a new column (a brief ACCESS EXCLUSIVE lock). A transaction that holds
the lock every writer of `purchases` takes, and stays open, stands for a
stuck checkout or a forgotten console session.
"""

from __future__ import annotations

import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests

from tests.support.factories import SHIPPING_ADDRESS
from tests.support.http_client import answers, new_account
from tests.support.migrations import (
    CONCURRENT_INDEX,
    CONCURRENT_INDEX_REVISION,
    NEW_COLUMN,
    NEW_COLUMN_REVISION,
    migrations_with,
)
from tests.support.processes import free_port, procfile, production_env, run_command, wait_for
from tests.support.procfile_processes import ProcessSet
from tests.support.receipts import release

pytestmark = pytest.mark.processes

RELEASE_DEADLINE_SECONDS = 60  # a release stuck behind a lock would wait for as long as the holder stays
CLIENTS = 3
INDEX = "ix_purchases_total_cents"


@dataclass
class LiveShop:
    base: str
    env: dict
    database_url: str
    migrations: Path
    token: str
    book: int

    def connect(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.database_url.replace("postgres://", "postgresql://", 1), **kwargs)

    def release(self, revision: str = "head") -> subprocess.CompletedProcess:
        """The Procfile's release line on the test migrations; a hang fails the test at the deadline."""
        command = f"{procfile()['release']} --directory {self.migrations} {revision}"
        try:
            return run_command(command, self.env, timeout=RELEASE_DEADLINE_SECONDS)
        except subprocess.TimeoutExpired as exc:
            hung = f"the release hung for {RELEASE_DEADLINE_SECONDS} s behind a lock"
            raise AssertionError(f"{hung}: {exc.output}") from None

    def index_valid(self) -> bool | None:
        """Whether the test index is valid (None: it does not exist)."""
        with self.connect() as connection:
            row = connection.execute(
                "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)",
                (INDEX,),
            ).fetchone()
        return row[0] if row else None

    def has_new_column(self) -> bool:
        with self.connect() as connection:
            return bool(
                connection.execute(
                    "SELECT 1 FROM information_schema.columns WHERE table_name = 'purchases' AND column_name = 'gift_note'",
                ).fetchone()
            )


@pytest.fixture
def shop(postgres_database, tmp_path):
    env = production_env(DATABASE_URL=postgres_database, GUNICORN_THREADS="4", LOG_LEVEL="INFO")
    release(env)
    with psycopg.connect(postgres_database.replace("postgres://", "postgresql://", 1)) as connection:
        book = connection.execute(
            "INSERT INTO products (title, author, description, price_cents, stock, created_at, hidden)"
            " VALUES ('Live', 'A. Author', '', 900, 1000000, now(), false) RETURNING id",
        ).fetchone()[0]
    migrations = migrations_with(
        tmp_path,
        {
            f"{CONCURRENT_INDEX}.py": CONCURRENT_INDEX_REVISION,
            f"{NEW_COLUMN}.py": NEW_COLUMN_REVISION,
        },
    )
    port = free_port()
    with ProcessSet(tmp_path / "logs") as processes:
        processes.start("web", {**env, "PORT": str(port)})
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: answers(base + "/healthz"), 30, interval=0.1, what="the web process")
        yield LiveShop(base, env, postgres_database, migrations, new_account(base, "live", "Live")[1], book)


@dataclass
class Checkouts:
    """API purchases from a few threads until stopped; every answer's status, in order."""

    shop: LiveShop
    statuses: list = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list = field(default_factory=list)

    def __enter__(self):
        for number in range(CLIENTS):
            thread = threading.Thread(target=self.buy, name=f"checkout-{number}", daemon=True)
            thread.start()
            self.threads.append(thread)
        self.wait_for_more(5)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def buy(self):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.shop.token}"
        while not self.stop.is_set():
            try:
                status = session.post(
                    f"{self.shop.base}/api/v1/purchases",
                    timeout=30,
                    json={
                        "items": [{"product_id": self.shop.book, "quantity": 1}],
                        "shipping_address": SHIPPING_ADDRESS,
                    },
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                ).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            self.statuses.append(status)

    def wait_for_more(self, count: int) -> None:
        target = len(self.statuses) + count
        wait_for(lambda: len(self.statuses) >= target, 60, interval=0.05, what=f"{count} more checkouts")


def hold_writers_lock(shop: LiveShop) -> psycopg.Connection:
    """An open transaction with the lock every writer of purchases takes (ROW EXCLUSIVE), as a stuck checkout has."""
    connection = shop.connect()
    connection.execute("LOCK TABLE purchases IN ROW EXCLUSIVE MODE")
    return connection


def test_the_release_builds_its_index_and_column_while_checkouts_go_on(shop):
    with Checkouts(shop) as checkouts:
        result = shop.release()
        checkouts.wait_for_more(5)
    assert result.returncode == 0, result.stderr + result.stdout
    assert shop.index_valid() is True and shop.has_new_column()
    assert set(checkouts.statuses) == {201}, checkouts.statuses


@pytest.mark.parametrize("stuck_at", [CONCURRENT_INDEX, NEW_COLUMN])
def test_a_release_that_cannot_get_its_lock_gives_up_and_checkouts_go_on(shop, stuck_at):
    if stuck_at == NEW_COLUMN:
        assert shop.release(CONCURRENT_INDEX).returncode == 0
    with Checkouts(shop) as checkouts:
        holder = hold_writers_lock(shop)
        try:
            before = len(checkouts.statuses)
            result = shop.release()
            during = len(checkouts.statuses) - before
            left_behind = shop.index_valid()
        finally:
            holder.close()  # its transaction ends: the lock is free
        checkouts.wait_for_more(5)

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "release gave up" in output and "lock_timeout" in output and "Traceback" not in output, output
    assert set(checkouts.statuses) == {201}, checkouts.statuses
    if stuck_at == CONCURRENT_INDEX:
        assert during > 0, "a concurrent build never holds checkouts, even while it waits"
        assert left_behind is False, "a concurrent build that gave up leaves an invalid index, which the rerun drops"
    else:
        assert f"stays at revision {CONCURRENT_INDEX}" in output, output

    rerun = shop.release()  # the holder is gone: the same release now completes
    assert rerun.returncode == 0, rerun.stderr + rerun.stdout
    assert shop.index_valid() is True and shop.has_new_column()
