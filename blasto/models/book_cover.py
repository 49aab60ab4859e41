"""A book's uploaded cover: the original as the admin sent it, and the sizes the pages show.

Kept in the database, not on a disk, because web and worker run on
different dynos and a dyno's disk is not kept. The blobs are deferred so
that reading a cover's state never loads them; the cover route loads the
one size it serves, by primary key.

`digest` is the SHA-256 of the original. The worker writes the sizes only
while the row still holds the digest it was asked about, so a slow build of
an older upload can never overwrite a newer one. The product's
`cover_digest` is set once the sizes exist: the pages link to the cover
only from then on (until then they show the generated one). If the task
asking for the sizes is lost, the orders sweep asks again (`sizing_asked_at`,
`sizing_asks`; blasto.shop.covers.ask_again_for_lost_sizes).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, deferred, mapped_column

from blasto.core.extensions import Model
from blasto.models.base import UTCDateTime, utcnow

DIGEST_LENGTH = 64  # SHA-256 in hex
CONTENT_TYPE_MAX = 20


class BookCover(Model):
    __tablename__ = "book_covers"

    product_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    digest: Mapped[str] = mapped_column(String(DIGEST_LENGTH))
    content_type: Mapped[str] = mapped_column(String(CONTENT_TYPE_MAX))
    original: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    # The sizes the pages use (blasto.shop.cover_images.WIDTHS), WebP; NULL until the worker made them.
    small: Mapped[bytes | None] = deferred(mapped_column(LargeBinary, nullable=True))
    large: Mapped[bytes | None] = deferred(mapped_column(LargeBinary, nullable=True))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sized_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # When the worker was last asked for the sizes of this upload, and how many times (the upload's ask is 1).
    # Set with every upload; NULL only if written by hand.
    sizing_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, default=utcnow)
    sizing_asks: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
