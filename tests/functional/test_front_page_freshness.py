"""The front page and "shoppers also bought" show changes at once, in every process, with no TTL to wait out.

Two apps on one Postgres database and one Redis stand for two processes (a web
process and the worker, or two gunicorn workers): a change committed through
one shows on the other's next request, while what no card shows changed is
served from what the process kept (blasto.shop.shown_books).
"""

from __future__ import annotations

import pytest
import redis

from blasto.core.config import celery_config, database_uri, engine_options
from blasto.core.extensions import db
from blasto.models import Product
from blasto.models.purchase import PROVIDER
from blasto.shop import orders, shown_books
from blasto.shop.checkout import place_order
from blasto.shop.front_page import shelves
from blasto.shop.shown_books import VERSION_KEY
from blasto.site.catalog import also_bought_html
from tests.support.factories import make_book, make_purchase, make_user, shipping


@pytest.fixture
def two_processes(app_factory, migrated_postgres, redis_url, tmp_path):
    uri = database_uri(migrated_postgres, None)

    def one(name: str):
        return app_factory(
            SQLALCHEMY_DATABASE_URI=uri,
            SQLALCHEMY_ENGINE_OPTIONS=engine_options(uri, 2),
            CELERY=celery_config(redis_url, tmp_path / name, {}),
        )

    return one("web"), one("worker")


def version(app) -> int:
    return int(redis.Redis.from_url(app.extensions["celery"].conf.broker_url).get(VERSION_KEY) or 0)


def home(app) -> str:
    return app.test_client().get("/home").get_data(as_text=True)


def best_sellers(app) -> str:
    return home(app).split('id="best-sellers"', 1)[-1]


def also_bought_on(app, book: int) -> str:
    page = app.test_client().get(f"/books/{book}").get_data(as_text=True)
    return page.split('id="also-bought"', 1)[-1] if 'id="also-bought"' in page else ""


def test_a_book_added_in_one_process_shows_at_once_in_the_other(two_processes):
    web, worker = two_processes
    make_book(worker, "Old Favourite")
    assert "Old Favourite" in home(web)
    with web.test_request_context():
        assert shelves() is shelves()  # nothing changed: kept
    before = version(worker)
    make_book(worker, "Fresh Arrival")
    assert version(worker) > before  # the bump went through the shared Redis
    assert "Fresh Arrival" in home(web)


def test_a_page_reads_the_version_once_however_many_kept_things_it_shows(two_processes, monkeypatch):
    web, _ = two_processes
    make_book(web, "Counted Once")
    reads: list[str] = []
    real_store = shown_books._version_store

    class Counting:
        def __init__(self, store):
            self.store = store

        def get(self, key):
            reads.append(key)
            return self.store.get(key)

    monkeypatch.setattr(shown_books, "_version_store", lambda app: Counting(real_store(app)))
    assert "Counted Once" in home(web)  # the shelves' data and their HTML: two kept things
    assert reads == [VERSION_KEY]
    assert "Counted Once" in home(web)
    assert reads == [VERSION_KEY, VERSION_KEY], "the next request reads it again"


def test_an_order_paid_or_refunded_elsewhere_moves_the_shelves_and_also_bought_at_once(two_processes):
    web, worker = two_processes
    user = make_user(worker, email="reader@example.com")
    steady, slow = make_book(worker, "Steady Seller", stock=9), make_book(worker, "Slow Seller", stock=9)
    make_purchase(worker, user, {steady: 1})
    order = make_purchase(worker, user, {slow: 3, steady: 1}, status="awaiting_payment")
    assert "Slow Seller" not in best_sellers(web) and "Slow Seller" not in also_bought_on(web, steady)
    with worker.app_context():  # the worker settles the card payment
        orders.move(order, orders.PAY, PROVIDER)
    shelf = best_sellers(web)
    assert shelf.index("Slow Seller") < shelf.index("Steady Seller"), "three copies sold lead two"
    assert "Slow Seller" in also_bought_on(web, steady)
    with web.test_request_context():  # nothing changed since: the section is kept as rendered
        assert also_bought_html(steady) is also_bought_html(steady)
    with worker.app_context():  # refunded at Stripe
        orders.move(order, orders.REFUNDED_AT_PROVIDER, PROVIDER)
    assert "Slow Seller" not in best_sellers(web) and "Slow Seller" not in also_bought_on(web, steady)
    with worker.app_context():  # an admin hides a book: a bulk UPDATE statement, not an object
        db.session.execute(db.update(Product).where(Product.id == steady).values(hidden=True))
        db.session.commit()
    assert "Steady Seller" not in home(web)


def test_a_checkout_bumps_the_version_only_when_a_stock_badge_moves(two_processes):
    web, worker = two_processes
    user = make_user(worker, email="buyer@example.com")
    book = make_book(worker, "Deep Shelf", stock=8)
    assert "In stock" in home(web)
    unchanged = version(worker)
    with worker.app_context():
        place_order(user, {book: 1}, shipping())  # 8 -> 7: still "In stock"
    assert version(worker) == unchanged, "a sale that moves no badge keeps what processes read"
    assert "In stock" in home(web)
    with worker.app_context():
        place_order(user, {book: 3}, shipping())  # 7 -> 4: "Only 4 left"
    assert version(worker) > unchanged
    assert "Only 4 left" in home(web)
