"""The worker's cover task: make the sizes of one upload (blasto.shop.covers)."""

from __future__ import annotations

import logging

from celery import shared_task

from blasto.core.extensions import db
from blasto.shop.covers import FAILED, SIZE_TASK, make_cover_sizes

log = logging.getLogger(__name__)


@shared_task(name=SIZE_TASK, ignore_result=True, acks_late=True)
def make_sizes(book_id, digest) -> str:
    """Safe to deliver twice: the second delivery writes the same bytes over the same upload."""
    if not isinstance(book_id, int) or isinstance(book_id, bool) or not isinstance(digest, str):
        log.error("cover task with malformed arguments; dropped", extra={"book_id": repr(book_id)[:50]})
        return FAILED
    try:
        return make_cover_sizes(book_id, digest)
    except Exception:  # an original that cannot be sized stays with the generated cover; retrying would not help
        db.session.rollback()
        log.exception("cover sizes failed", extra={"book_id": book_id})
        return FAILED
