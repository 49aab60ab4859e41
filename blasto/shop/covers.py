"""Uploaded covers: stored with the book, sized by the worker, read back one size at a time.

The web request that takes an upload only checks it and stores the original
(blasto.shop.cover_images.check_cover); the sizes take the worker's time,
not a shopper's or an admin's. The task is queued after the commit, so the
worker never looks for a row that is not there yet; if the broker is down
the book keeps its generated cover and the admin is told to upload again.
"""

from __future__ import annotations

import hashlib
import logging

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
