"""The front page shows catalogue and sales changes at once, in every process, with no TTL to wait out.

Two apps on one Postgres database and one Redis stand for two processes (a web
process and the worker, or two gunicorn workers): a change committed through
one shows on the other's next request, while an unchanged catalogue is served
from the cache.
"""

from __future__ import annotations

import pytest
import redis

from blasto.core.config import celery_config, database_uri, engine_options
from blasto.core.extensions import db
from blasto.models import Product, Purchase
from blasto.shop.front_page import VERSION_KEY, shelves
from tests.support.factories import make_book, make_purchase, make_user


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


def home(app) -> str:
    return app.test_client().get("/home").get_data(as_text=True)


def test_a_book_added_in_one_process_shows_at_once_in_the_other(two_processes):
    web, worker = two_processes
    make_book(worker, "Old Favourite")
    assert "Old Favourite" in home(web)
    with web.test_request_context():
        assert shelves(web) is shelves(web)  # nothing changed: no reload
    shared = redis.Redis.from_url(worker.extensions["celery"].conf.broker_url)
    before = int(shared.get(VERSION_KEY) or 0)
    make_book(worker, "Fresh Arrival")
    assert int(shared.get(VERSION_KEY) or 0) > before  # the bump went through the shared Redis
    assert "Fresh Arrival" in home(web)


def test_an_order_paid_or_moved_elsewhere_moves_the_best_sellers_at_once(two_processes):
    web, worker = two_processes
    user = make_user(worker, email="reader@example.com")
    book = make_book(worker, "Slow Seller", stock=9)
    order = make_purchase(worker, user, {book: 2}, status="awaiting_payment")
    page = home(web)
    assert "Slow Seller" not in page.split("Best sellers", 1)[-1]
    with worker.app_context():  # the worker settles the payment
        db.session.get(Purchase, order).status = "paid"
        db.session.commit()
    assert "Slow Seller" in home(web).split("Best sellers", 1)[-1]
    with worker.app_context():  # an admin hides it: a bulk UPDATE statement, not an object
        db.session.execute(db.update(Product).where(Product.id == book).values(hidden=True))
        db.session.commit()
    assert "Slow Seller" not in home(web)
