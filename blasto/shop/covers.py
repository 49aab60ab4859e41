"""Uploaded covers: stored with the book, sized by the worker, read back one size at a time.

The web request that takes an upload only checks it and stores the original
(blasto.shop.cover_images.check_cover); the sizes take the worker's time,
not a shopper's or an admin's. The task is queued after the commit, so the
worker never looks for a row that is not there yet; if the broker is down
or the task is lost, the orders sweep asks again (`ask_again_for_lost_sizes`)
and the book keeps its generated cover until the sizes exist.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from sqlalchemy import select, update

from blasto.core.extensions import db
from blasto.core.task_queue import enqueue
from blasto.models import BookCover, Product
from blasto.models.base import utcnow
from blasto.shop.cover_art import art_digest
from blasto.shop.cover_images import WIDTHS, make_sizes

SIZE_TASK = "blasto.covers.make_sizes"
URL_DIGEST_LENGTH = 16  # the hash prefix in a cover's URL: 64 bits, plenty to tell one book's covers apart
_COLUMNS = {WIDTHS[0]: BookCover.small, WIDTHS[1]: BookCover.large}
SUPERSEDED, SIZED, FAILED = "superseded", "sized", "failed"
# Asks for one upload's sizes, the upload's own included: a cover the worker cannot size (or that kills it)
# is not asked about for ever.
MAX_SIZING_ASKS = 4
SWEEP_BATCH = 50  # covers asked about again per sweep; the rest wait for the next one

log = logging.getLogger(__name__)


def store_cover(book_id: int, data: bytes, content_type: str) -> tuple[str, bool]:
    """Keep `data` as the book's cover original; (its digest, whether its sizes still need making).

    The book shows its generated cover until the worker has made the new
    sizes. The same file uploaded again changes nothing. The caller commits.
    """
    digest = hashlib.sha256(data).hexdigest()
    cover = db.session.get(BookCover, book_id)
    if cover is not None and cover.digest == digest and cover.sized_at is not None:
        return digest, False
    values = {
        "digest": digest,
        "content_type": content_type,
        "original": data,
        "small": None,
        "large": None,
        "uploaded_at": utcnow(),
        "sized_at": None,
        "sizing_asked_at": utcnow(),
        "sizing_asks": 1,
    }
    if cover is None:
        db.session.add(BookCover(product_id=book_id, **values))
    else:
        db.session.execute(
            update(BookCover)
            .where(BookCover.product_id == book_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    db.session.execute(
        update(Product)
        .where(Product.id == book_id)
        .values(cover_digest=None)
        .execution_options(synchronize_session=False)
    )
    return digest, True


def queue_sizes(book_id: int, digest: str, celery=None) -> bool:
    """Ask the worker for the sizes; False (and a warning) if the broker refused."""
    # Broker down: the book keeps its generated cover until the sizes are asked for again.
    return enqueue(SIZE_TASK, [book_id, digest], celery=celery, warning="cover sizes not queued", book_id=book_id)


def ask_again_for_lost_sizes(after_seconds: float, celery=None) -> int:
    """Queue the sizes of covers still unsized `after_seconds` after the last ask; how many were queued.

    Each is stamped asked now (and its asks counted) in the same commit that
    picks it, so the next sweep leaves it alone for another `after_seconds`
    and two clocks never queue it twice; a cover asked MAX_SIZING_ASKS times
    keeps its generated cover. Queueing a cover twice is harmless: the task
    writes the same sizes over the same upload.
    """
    now = utcnow()
    stale = (
        select(BookCover.product_id)
        .where(
            BookCover.sized_at.is_(None),
            BookCover.sizing_asked_at <= now - timedelta(seconds=after_seconds),
            BookCover.sizing_asks < MAX_SIZING_ASKS,
        )
        .order_by(BookCover.sizing_asked_at)
        .limit(SWEEP_BATCH)
        .with_for_update(skip_locked=True)
    )
    asked = db.session.execute(
        update(BookCover)
        .where(BookCover.product_id.in_(stale))
        .values(sizing_asked_at=now, sizing_asks=BookCover.sizing_asks + 1)
        .returning(BookCover.product_id, BookCover.digest)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    if asked:
        log.info("cover sizes lost: asking the worker again", extra={"count": len(asked)})
    return sum(queue_sizes(book_id, digest, celery) for book_id, digest in sorted(asked))


def make_cover_sizes(book_id: int, digest: str) -> str:
    """The worker's part: make and store the sizes of the upload `digest`, then show it.

    Written only while the book's cover is still that upload: a newer one
    (or none) means this build is superseded and writes nothing.
    """
    original = db.session.scalar(
        select(BookCover.original).where(BookCover.product_id == book_id, BookCover.digest == digest)
    )
    if original is None:
        return SUPERSEDED
    sizes = make_sizes(original)
    written = db.session.execute(
        update(BookCover)
        .where(BookCover.product_id == book_id, BookCover.digest == digest)
        .values(small=sizes[WIDTHS[0]], large=sizes[WIDTHS[1]], sized_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if written.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        return SUPERSEDED
    db.session.execute(
        update(Product)
        .where(Product.id == book_id)
        .values(cover_digest=digest)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return SIZED


def cover_bytes(book_id: int, url_digest: str, width: int) -> bytes | None:
    """One size of the book's cover if `url_digest` is its current one (one query, by primary key)."""
    column = _COLUMNS.get(width)
    if column is None or len(url_digest) != URL_DIGEST_LENGTH:
        return None
    row = db.session.execute(select(column, BookCover.digest).where(BookCover.product_id == book_id)).first()
    if row is None or row[0] is None or row.digest[:URL_DIGEST_LENGTH] != url_digest:
        return None
    return row[0]


def title_and_author(book_id: int) -> tuple[str, str] | None:
    row = db.session.execute(select(Product.title, Product.author).where(Product.id == book_id)).first()
    return (row.title, row.author) if row else None


def cover_key(book) -> tuple[str, str]:
    """("image", digest prefix) for a book with a sized upload, else ("art", digest of its title and author).

    `book` is a Product or a dict with the same keys (the front page's shelves).
    """

    def value(name: str):
        return book.get(name) if isinstance(book, dict) else getattr(book, name, None)

    uploaded = value("cover_digest")
    if uploaded:
        return "image", uploaded[:URL_DIGEST_LENGTH]
    return "art", art_digest(value("title") or "", value("author") or "")
