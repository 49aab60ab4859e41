"""The front page's shelves: new books and best sellers, shown as they are now.

`/home` is the busiest page and is benchmarked against bare Flask, and its two
queries cost tens of milliseconds once there are a few thousand orders (the
best sellers add up every copy sold). So the shelves are cached per process,
but keyed on a version number instead of a TTL: any commit that touched a
product, an order or its lines (an admin's edit, a checkout, an order moved by
a shopper, an admin or the worker) bumps the version after it commits, and
each request compares the version with its cache's (one Redis GET). A change
shows on the next request in every process, never 30 s later.

The version lives in the broker's Redis (through the small readiness client),
so web and worker processes share it; with the embedded broker (one machine,
no Redis) it is this process's own counter. If Redis cannot be read, the
shelves are reloaded every few seconds instead. If the database cannot be read
the page still renders, without shelves, and the error is logged (the front
page should not be the first thing to fall).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import kombu.exceptions
import redis.exceptions
from flask import Flask, current_app, has_app_context
from sqlalchemy import event, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import ORMExecuteState, Session

from blasto.core.extensions import db
from blasto.core.redis_client import health_redis, is_redis
from blasto.models import Product, Purchase, PurchaseItem
from blasto.models.purchase import SOLD
from blasto.shop.catalog import FOR_SALE

log = logging.getLogger("blasto.front_page")

SHELF_SIZE = 8
FAILURE_TTL_SECONDS = 5.0  # a failed read (or an unknown version) is retried this soon, not on every request
EXTENSION_KEY = "blasto.front_page"
LOCAL_VERSION_KEY = "blasto.front_page_version"
VERSION_KEY = "blasto:front_page:version"
CHANGED = "blasto.front_page_changed"  # in a Session's info: this transaction touched what the shelves show
SHELF_TABLES = frozenset({"products", "purchases", "purchase_items"})

_COLUMNS = (Product.id, Product.title, Product.author, Product.price_cents, Product.stock, Product.cover_digest)
_NEWEST = select(*_COLUMNS).where(FOR_SALE).order_by(Product.created_at.desc(), Product.id.desc()).limit(SHELF_SIZE)
_SOLD = func.sum(PurchaseItem.quantity).label("sold")
_BEST_SELLING = (
    select(*_COLUMNS, _SOLD)
    .join(PurchaseItem, PurchaseItem.product_id == Product.id)
    .join(Purchase, Purchase.id == PurchaseItem.purchase_id)
    .where(FOR_SALE, Purchase.status.in_(SOLD))  # copies paid for, not merely ordered
    .group_by(*_COLUMNS)
    .order_by(_SOLD.desc(), Product.id)
    .limit(SHELF_SIZE)
)


@dataclass(frozen=True)
class Shelves:
    new_books: list[dict] = field(default_factory=list)
    best_sellers: list[dict] = field(default_factory=list)
    available: bool = True  # False when the catalogue could not be read


def shelves(app: Flask | None = None) -> Shelves:
    """The cached shelves, reloaded when the catalogue or the sales changed since they were read."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    version = current_version(app)
    now = time.monotonic()
    cached = app.extensions.get(EXTENSION_KEY)
    if cached is not None:
        read_at_version, retry_after, data = cached
        if data.available and version is not None and read_at_version == version:
            return data
        if (not data.available or version is None) and now < retry_after:
            return data  # a failed read, or no version to compare: retried after a few seconds
    data = load_shelves()
    app.extensions[EXTENSION_KEY] = (version, now + FAILURE_TTL_SECONDS, data)
    return data


def forget(app: Flask) -> None:
    """Drop this process's cached shelves (tests, a loaded catalogue)."""
    app.extensions.pop(EXTENSION_KEY, None)


def _version_store(app: Flask):
    """The readiness client on the broker's Redis (web processes hold it anyway), or None with the embedded broker."""
    celery = app.extensions.get("celery")
    url = celery.conf.broker_url if celery is not None else ""
    if not url or not is_redis(url):
        return None
    return health_redis(url, float(app.config.get("READY_TIMEOUT_SECONDS", 2)))


def current_version(app: Flask) -> str | None:
    """The shelves' version now; None if it cannot be read (Redis down)."""
    local = str(app.extensions.get(LOCAL_VERSION_KEY, 0))
    try:
        store = _version_store(app)
        if store is None:
            return local
        shared = store.get(VERSION_KEY)
    except redis.exceptions.RedisError as error:
        log.warning("front page version unavailable", extra={"error": type(error).__name__})
        return None
    # The local part makes this process's own changes show even before Redis answers again.
    return f"{shared.decode() if shared else 0}.{local}"


def bump_version(app: Flask) -> None:
    """After a commit that changed the catalogue or the sales: every process reloads its shelves.

    The INCR goes over a pooled broker connection (the one tasks are published
    on), which web and worker processes hold anyway: the worker, where orders
    expire and card payments settle, has no other Redis client in its budget.
    """
    app.extensions[LOCAL_VERSION_KEY] = app.extensions.get(LOCAL_VERSION_KEY, 0) + 1
    celery = app.extensions.get("celery")
    if celery is None or not is_redis(celery.conf.broker_url or ""):
        return
    try:
        with celery.pool.acquire(block=True, timeout=float(app.config.get("READY_TIMEOUT_SECONDS", 2))) as connection:
            connection.default_channel.client.incr(VERSION_KEY)
    except (redis.exceptions.RedisError, kombu.exceptions.KombuError, OSError) as error:
        # The commit stands; other processes catch up at the next bump.
        log.warning("front page version not bumped", extra={"error": type(error).__name__})


@event.listens_for(Session, "after_flush")
def _note_flushed(session: Session, flush_context) -> None:
    """Objects of the shelves' tables added, changed or deleted (a purchase and its lines, an order's status)."""
    for instance in (*session.new, *session.dirty, *session.deleted):
        if getattr(instance, "__tablename__", None) in SHELF_TABLES:
            session.info[CHANGED] = True
            return


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: ORMExecuteState) -> None:
    """UPDATE/INSERT/DELETE statements on the shelves' tables (stock taken at checkout, a book hidden)."""
    if state.is_update or state.is_insert or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in SHELF_TABLES:
            state.session.info[CHANGED] = True


@event.listens_for(Session, "after_commit")
def _bump_after_commit(session: Session) -> None:
    # Over-bumping (a change later rolled back to a savepoint) only costs one reload; missing one would not.
    if session.info.pop(CHANGED, False) and has_app_context():
        bump_version(current_app._get_current_object())  # type: ignore[attr-defined]


def load_shelves() -> Shelves:
    try:
        new_books = [_book(row) for row in db.session.execute(_NEWEST)]
        best_sellers = [{**_book(row), "sold": int(row.sold)} for row in db.session.execute(_BEST_SELLING)]
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("front page shelves unavailable")
        return Shelves(available=False)
    return Shelves(new_books=new_books, best_sellers=best_sellers)


def _book(row) -> dict:
    return {
        "id": row.id,
        "title": row.title,
        "author": row.author,
        "price_cents": row.price_cents,
        "stock": row.stock,
        "cover_digest": row.cover_digest,  # which cover the card shows (blasto.shop.covers.cover_key)
    }
