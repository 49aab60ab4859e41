"""Load the sample catalogue idempotently: a book already present is left alone (its missing details aside)."""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select, update

from blasto.core.extensions import db
from blasto.models import Product
from blasto.shop.sample_books import BOOKS, DETAILS, PUBLISHER
from blasto.shop.sample_sales import seed_sales

log = logging.getLogger(__name__)


def seed_catalog() -> int:
    """Insert the books that are missing (matched by title and author); return how many."""
    existing = {(title, author) for title, author in db.session.execute(select(Product.title, Product.author))}
    added = [
        Product(title=title, author=author, price_cents=price, stock=stock, description=description, **details(title))
        for title, author, price, stock, description in BOOKS
        if (title, author) not in existing
    ]
    db.session.add_all(added)
    db.session.commit()
    return len(added)


def file_sample_books() -> int:
    """Give the sample books seeded before they had details their genre, year and the rest; return how many.

    Only a book with no detail at all is filled, so nothing an admin set is overwritten.
    """
    filed = 0
    for title, author, *_ in BOOKS:
        filed += len(
            db.session.execute(
                update(Product)
                .where(Product.title == title, Product.author == author)
                .where(*(getattr(Product, name).is_(None) for name in DETAIL_COLUMNS))
                .values(**details(title))
                .returning(Product.id)
                .execution_options(synchronize_session=False)
            ).all()
        )
    db.session.commit()
    return filed


DETAIL_COLUMNS = ("genre", "publisher", "year_published", "pages", "format", "isbn13")


def details(title: str) -> dict:
    genre, year, pages, book_format = DETAILS[title]
    return {"genre": genre, "publisher": PUBLISHER, "year_published": year, "pages": pages, "format": book_format}


def catalogue_is_empty() -> bool:
    """No book at all, hidden ones included: a shop whose owner hid every book is not empty."""
    return db.session.scalar(select(Product.id).limit(1)) is None


def stock_empty_development_shop() -> None:
    """`seed --if-empty`: a fresh development clone opens on a stocked shop, never a real one.

    Procfile.dev's web line runs it after the migrations. Outside development it
    changes nothing, so the same line pointed at a real database loads no sample books.
    """
    environment = current_app.config["BLASTO_ENV"]
    if environment != "development":
        log.info(
            "sample books not loaded: --if-empty loads them in development only", extra={"blasto_env": environment}
        )
    elif not catalogue_is_empty():
        log.info("sample books not loaded: the catalogue has books")
    else:
        log.info("the catalogue is empty: loading the sample books (development)", extra={"books": seed_catalog()})


@click.command("seed")
@click.option(
    "--sales",
    type=click.IntRange(0, 1_000_000),
    default=0,
    show_default=True,
    help="Also make sure this many sample sales exist (a year of order history for reports).",
)
@click.option(
    "--if-empty",
    is_flag=True,
    help="Only in development, only into an empty catalogue, saying so in the log (Procfile.dev's web line).",
)
@with_appcontext
def seed_command(sales: int, if_empty: bool):
    """Load the sample catalogue of books, and optionally sample sales (safe to run again)."""
    if if_empty:
        if sales:
            raise click.UsageError("--if-empty loads the books only; run `seed --sales N` for sales")
        stock_empty_development_shop()
        return
    added = seed_catalog()
    click.echo(f"seed: {added} books added, {len(BOOKS) - added} already present")
    filed = file_sample_books()
    if filed:
        click.echo(f"seed: {filed} books seeded earlier given their genre and details")
    if sales:
        click.echo(f"seed: {seed_sales(sales):,} sample sales added ({sales:,} wanted)")
