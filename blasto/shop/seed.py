"""Load the sample catalogue idempotently: a book already present is left alone."""
from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from blasto.extensions import db
from blasto.models import Product
from blasto.shop.sample_books import BOOKS


def seed_catalog() -> int:
    """Insert the books that are missing (matched by title and author); return how many."""
    existing = {(title, author) for title, author in db.session.execute(select(Product.title, Product.author))}
    added = [
        Product(title=title, author=author, price_cents=price, stock=stock, description=description)
        for title, author, price, stock, description in BOOKS
        if (title, author) not in existing
    ]
    db.session.add_all(added)
    db.session.commit()
    return len(added)


@click.command("seed")
@click.option("--sales", type=click.IntRange(0, 1_000_000), default=0, show_default=True, help="Also make sure this many sample sales exist (a year of order history for reports).")
@with_appcontext
def seed_command(sales: int):
    """Load the sample catalogue of books, and optionally sample sales (safe to run again)."""
    added = seed_catalog()
    click.echo(f"seed: {added} books added, {len(BOOKS) - added} already present")
    if sales:
        from blasto.shop.sample_sales import seed_sales

        click.echo(f"seed: {seed_sales(sales):,} sample sales added ({sales:,} wanted)")
