"""Checkout races on real Postgres, through the real web process.

gunicorn from the Procfile (two workers, enough threads that all 20 requests
are in flight together); 20 client threads released at once by a barrier.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, text

from blasto.core.config import database_uri
from tests.support.factories import SHIPPING_ADDRESS
from tests.support.http_client import answers
from tests.support.processes import production_env, wait_for

pytestmark = pytest.mark.processes

CLIENTS = 20
PASSWORD = "correct horse battery"


@pytest.fixture
def web(start_stack, migrated_postgres, empty_env_file):
    env = production_env(DATABASE_URL=migrated_postgres, GUNICORN_THREADS=str(CLIENTS), DATABASE_POOL_SIZE=str(CLIENTS))
    stack = start_stack(["start", "-f", "Procfile", "-e", str(empty_env_file), "web"], env)
    wait_for(lambda: answers(stack.base + "/healthz"), 30, what="/healthz")
    yield stack
    stack.stop(timeout=15)
    assert " 500 " not in stack.output() and "status=500" not in stack.output()


@pytest.fixture
def database(migrated_postgres):
    engine = create_engine(database_uri(migrated_postgres, None))
    yield engine
    engine.dispose()


def add_book(database, stock: int) -> int:
    with database.begin() as connection:
        return connection.execute(
            text(
                "INSERT INTO products (title, author, description, price_cents, stock, created_at) VALUES ('Last Copies', 'A. Author', '', 1250, :stock, now()) RETURNING id"
            ),
            {"stock": stock},
        ).scalar_one()


def token_for(base: str, email: str) -> str:
    assert (
        requests.post(
            f"{base}/api/v1/users", json={"email": email, "password": PASSWORD, "name": "Racer"}, timeout=10
        ).status_code
        == 201
    )
    response = requests.post(f"{base}/api/v1/tokens", auth=(email, PASSWORD), timeout=10)
    assert response.status_code == 201
    return response.json()["token"]


def all_at_once(calls):
    """Run the callables on their own threads, released together; their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def buy(base: str, token: str, product_id: int, key: str | None = None):
    headers = {"Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = key
    return lambda: requests.post(
        f"{base}/api/v1/purchases",
        json={"items": [{"product_id": product_id, "quantity": 1}], "shipping_address": SHIPPING_ADDRESS},
        headers=headers,
        timeout=30,
    )


def test_twenty_buyers_for_five_copies_exactly_five_succeed(web, database):
    book = add_book(database, stock=5)
    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(lambda n: token_for(web.base, f"racer{n}@example.com"), range(CLIENTS)))
    responses = all_at_once([buy(web.base, token, book) for token in tokens])

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * 5 + [409] * 15, statuses
    for response in responses:
        if response.status_code == 409:
            body = response.json()
            assert body["error"] == "conflict" and "“Last Copies” is sold out" in body["message"]
    with database.connect() as connection:
        assert connection.execute(text("SELECT stock FROM products WHERE id = :id"), {"id": book}).scalar_one() == 0
        sold = connection.execute(
            text("SELECT count(*), coalesce(sum(quantity), 0) FROM purchase_items WHERE product_id = :id"), {"id": book}
        ).one()
        assert tuple(sold) == (5, 5)
        assert connection.execute(text("SELECT count(DISTINCT user_id) FROM purchases")).scalar_one() == 5


def test_twenty_retries_with_one_idempotency_key_make_one_purchase(web, database):
    book = add_book(database, stock=50)
    token = token_for(web.base, "retry@example.com")
    responses = all_at_once([buy(web.base, token, book, key="retry-6b1f") for _ in range(CLIENTS)])

    assert [response.status_code for response in responses] == [201] * CLIENTS
    assert len({response.json()["id"] for response in responses}) == 1
    assert sum(1 for response in responses if "Idempotent-Replayed" not in response.headers) == 1
    with database.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM purchases")).scalar_one() == 1
        assert connection.execute(text("SELECT stock FROM products WHERE id = :id"), {"id": book}).scalar_one() == 49
