"""What the shop's book cards show, kept by each process until it changes: a version, and what was read at it.

The front page's shelves and a book page's "shoppers also bought" are the same
for every visitor and sit on the busiest pages (docs/BENCHMARKS.md, the 18:08
UTC run of 2026-12-06). Each process keeps what it read for them, keyed on a version number:
any commit that changed what a card shows (a book added, edited, hidden or
restocked, its cover, a payment or refund that moved the sales counts, a sale
that moved a stock badge) bumps the version after it commits, and each request
compares it with its cache's (one Redis GET). A change shows on the next
request in every process, never seconds later.

Writes to `products` and `book_pairs` bump it, whatever made them. The one
write that usually changes nothing shown is a checkout's stock UPDATE ("In
stock" stays "In stock"): it carries the UNSHOWN execution option, and
checkout calls `changed()` itself when a badge moves.

The version lives in the broker's Redis (through the small readiness client),
so web and worker processes share it; with the embedded broker (one machine,
no Redis) it is this process's own counter. If Redis cannot be read, what is
kept is read again every few seconds instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

import kombu.exceptions
import redis.exceptions
from flask import Flask, current_app, g, has_app_context, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from blasto.core.redis_client import health_redis, is_redis

log = logging.getLogger("blasto.shown_books")

T = TypeVar("T")

CONNECT_ONCE = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}
UNKNOWN_VERSION_SECONDS = 5.0  # with Redis unreadable, what is kept is read again this soon
KEPT_MAX = 10_000  # entries a process keeps (one per book page, a few kB each); past it, it starts again
VERSION_KEY = "blasto:shown_books:version"
UNSHOWN = "blasto_unshown"  # an execution option: this statement changes nothing a card shows
_KEPT = "blasto.shown_books"
_LOCAL_VERSION = "blasto.shown_books_version"
_SHARED_VERSION = "blasto_shown_books_version"  # in flask.g: the shared part, as this request read it
_CHANGED = "blasto.shown_books_changed"  # in a Session's info: this transaction changed what cards show
_TABLES = frozenset({"products", "book_pairs"})


def kept(name: str, key: Hashable, load: Callable[[], T], keep: Callable[[T], bool] = lambda _: True) -> T:
    """`load()`, kept by this process under (name, key) until the version changes; a value `keep` refuses is not kept."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    version = current_version(app)
    now = time.monotonic()
    at_version, expires, entries = app.extensions.get(_KEPT, (None, 0.0, {}))
    if version is None and now >= expires or version is not None and version != at_version:
        entries = {}
        app.extensions[_KEPT] = (version, now + UNKNOWN_VERSION_SECONDS, entries)
    if (name, key) in entries:
        return entries[(name, key)]
    value = load()
    if keep(value):
        if len(entries) >= KEPT_MAX:
            entries.clear()
        entries[(name, key)] = value
    return value


def changed(session: Session) -> None:
    """This transaction changed what a card shows: the version is bumped once it commits."""
    session.info[_CHANGED] = True


def _version_store(app: Flask):
    """The readiness client on the broker's Redis (web processes hold it anyway), or None with the embedded broker."""
    celery = app.extensions.get("celery")
    url = celery.conf.broker_url if celery is not None else ""
    if not url or not is_redis(url):
        return None
    return health_redis(url, float(app.config.get("READY_TIMEOUT_SECONDS", 2)))


def current_version(app: Flask) -> str | None:
    """The version now; None if it cannot be read (Redis down). Redis is read once per request."""
    local = str(app.extensions.get(_LOCAL_VERSION, 0))
    try:
        store = _version_store(app)
        if store is None:
            return local
        shared = _shared_version(store)
    except redis.exceptions.RedisError as error:
        log.warning("shown books version unavailable", extra={"error": type(error).__name__})
        return None
    # The local part makes this process's own changes show even before Redis answers again.
    return f"{shared.decode() if shared else 0}.{local}"


def _shared_version(store) -> bytes | None:
    """Redis's part of the version, read once per request however many kept things the page shows."""
    if not has_request_context():
        return store.get(VERSION_KEY)
    if _SHARED_VERSION not in g:
        setattr(g, _SHARED_VERSION, store.get(VERSION_KEY))
    return getattr(g, _SHARED_VERSION)


def bump_version(app: Flask) -> None:
    """After a commit that changed what cards show: every process reads them again.

    The INCR goes over a pooled broker connection (the one tasks are published
    on), which web and worker processes hold anyway: the worker, where orders
    expire and card payments settle, has no other Redis client in its budget.
    """
    app.extensions[_LOCAL_VERSION] = app.extensions.get(_LOCAL_VERSION, 0) + 1
    celery = app.extensions.get("celery")
    if celery is None or not is_redis(celery.conf.broker_url or ""):
        return
    try:
        with celery.pool.acquire(block=True, timeout=float(app.config.get("READY_TIMEOUT_SECONDS", 2))) as connection:
            # One quick try, as a task's publish gets (blasto.core.task_queue): left to its defaults, kombu
            # retries a dead broker for seconds, holding the request that committed.
            connection.ensure_connection(**CONNECT_ONCE)
            connection.default_channel.client.incr(VERSION_KEY)
    except (redis.exceptions.RedisError, kombu.exceptions.KombuError, OSError) as error:
        # The commit stands; other processes catch up at the next bump.
        log.warning("shown books version not bumped", extra={"error": type(error).__name__})


@event.listens_for(Session, "after_flush")
def _note_flushed(session: Session, flush_context) -> None:
    """Books or pairs added, changed or deleted as objects (an admin's edit, the sample catalogue)."""
    for instance in (*session.new, *session.dirty, *session.deleted):
        if getattr(instance, "__tablename__", None) in _TABLES:
            changed(session)
            return


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: ORMExecuteState) -> None:
    """UPDATE/INSERT/DELETE statements on books or pairs (a book hidden, stock put back, sales counted)."""
    if (state.is_update or state.is_insert or state.is_delete) and not state.execution_options.get(UNSHOWN):
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in _TABLES:
            changed(state.session)


@event.listens_for(Session, "after_commit")
def _bump_after_commit(session: Session) -> None:
    # Over-bumping (a change later rolled back to a savepoint) only costs one reload; missing one would not.
    if session.info.pop(_CHANGED, False) and has_app_context():
        bump_version(current_app._get_current_object())  # type: ignore[attr-defined]


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_CHANGED, None)
