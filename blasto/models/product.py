"""Books for sale.

A hidden book is off sale, not deleted: past purchases still name it, so its
row stays and shoppers simply stop seeing it (blasto.shop.catalog.for_sale).
The catalogue details (genre, publisher, year, pages, format, ISBN) are
optional: books added before they existed have none, and a form or schema
checks each value before it is written (blasto.shop.book_details).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, String, Text, false, literal_column, text
from sqlalchemy.orm import Mapped, mapped_column

from blasto.core.extensions import Model
from blasto.models.base import UTCDateTime, utcnow

TITLE_MAX = AUTHOR_MAX = 200
STOCK_MAX = 1_000_000  # a bookshop's shelf, not a warehouse; also far from INTEGER's limit
PUBLISHER_MAX = 200
GENRE_MAX = FORMAT_MAX = 20
ISBN13_LENGTH = 13
PAPERBACK, HARDCOVER, EBOOK = "paperback", "hardcover", "ebook"
FORMATS = {PAPERBACK: "Paperback", HARDCOVER: "Hardcover", EBOOK: "E-book"}


class Product(Model):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
        # Books low on stock (the admin dashboard): a short range at the low end.
        Index("ix_products_stock", "stock"),
        # Search on Postgres (migrations 0014 and 0015 create the functions; blasto.shop.catalog
        # queries these very expressions). SQLite searches its FTS5 table instead.
        Index(
            "ix_products_search_document",
            text("blasto_search_document(title, author, description)"),
            postgresql_using="gin",
        ).ddl_if(dialect="postgresql"),
        Index(
            "ix_products_search_names",
            literal_column("blasto_search_names(title, author)").label("names"),
            postgresql_using="gin",
            postgresql_ops={"names": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX), index=True)
    author: Mapped[str] = mapped_column(String(AUTHOR_MAX), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    price_cents: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A key of blasto.shop.genres.GENRES, or None (not yet filed under one).
    genre: Mapped[str | None] = mapped_column(String(GENRE_MAX), nullable=True)
    publisher: Mapped[str | None] = mapped_column(String(PUBLISHER_MAX), nullable=True)
    # The year the work was first published (the sample catalogue's are public-domain facts).
    year_published: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pages: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # A key of FORMATS, or None.
    format: Mapped[str | None] = mapped_column(String(FORMAT_MAX), nullable=True)
    # 13 digits with a valid check digit (blasto.shop.book_details.isbn13_problem), or None.
    isbn13: Mapped[str | None] = mapped_column(String(ISBN13_LENGTH), nullable=True)
    # The SHA-256 of the uploaded cover whose sizes are ready (blasto.models.book_cover), or None:
    # the pages then show a cover generated from the title and author.
    cover_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Admins get an e-mail when a sale takes the stock from this many or more to fewer
    # (blasto.shop.low_stock); None: no alert.
    low_stock_threshold: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Copies in paid or shipped orders, kept as orders are paid and refunded (blasto.shop.sales_counts):
    # the best sellers, read on the front page and the catalogue's best-selling sort.
    copies_sold: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
