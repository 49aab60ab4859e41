"""Migrations 0014-0015 on a shop with books: details added empty, the books already listed found by search, and back down.

Applied in-process (Flask-Migrate), on SQLite and Postgres: up to the
revision before, books written as the code of the time wrote them, then up
to the head, down again and up again.
"""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from blasto.core.extensions import db
from blasto.shop.catalog import CatalogQuery, catalog_page
from tests.support.migrations import app_at_revision, head_revision, revision_before
from tests.support.migrations import committed_sql as sql
from tests.support.tiers import POSTGRES_PARAM

BEFORE = revision_before("0014_finding_books")
NEW_COLUMNS = {"genre", "publisher", "year_published", "pages", "format", "isbn13"}
SQLITE_TRIGGERS = {"products_search_insert", "products_search_delete", "products_search_update"}
POSTGRES_FUNCTIONS = {"blasto_unaccent", "blasto_search_document", "blasto_search_names"}


@pytest.fixture(params=["sqlite", POSTGRES_PARAM])
def old_shop(request, app_factory):
    """An app whose database is at the revision before finding books, its context pushed."""
    with app_at_revision(request, app_factory, BEFORE) as app:
        yield app


def add_book_as_before(title: str, author: str, description: str = "") -> None:
    """The INSERT the code deployed before the revision makes: it never names the new columns."""
    sql(
        "INSERT INTO products (title, author, description, price_cents, stock, created_at, hidden) "
        "VALUES (:title, :author, :description, 1199, 3, CURRENT_TIMESTAMP, false)",
        title=title,
        author=author,
        description=description,
    )


def found(search: str) -> list[str]:
    db.session.remove()
    books, _ = catalog_page(CatalogQuery(search=search), 1, 20)
    return [book.title for book in books]


def search_objects() -> set[str]:
    if db.engine.dialect.name == "sqlite":
        rows = sql("SELECT name FROM sqlite_master WHERE name LIKE 'products_search%'").scalars()
        return set(rows)
    return set(sql("SELECT proname FROM pg_proc WHERE proname LIKE 'blasto_%'").scalars()) | set(
        sql("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix_products_search%'").scalars()
    )


def test_books_listed_before_are_found_and_the_revision_goes_down_and_up_again(old_shop):
    add_book_as_before("Jane Eyre", "Charlotte Brontë", "A governess at Thornfield.")
    add_book_as_before("Emma", "Jane Austen")

    upgrade()

    assert sql("SELECT version_num FROM alembic_version").scalar_one() == head_revision()
    assert {column["name"] for column in inspect(db.engine).get_columns("products")} >= NEW_COLUMNS
    assert sql("SELECT genre, publisher, year_published, pages, format, isbn13 FROM products").all() == [
        (None,) * 6,
        (None,) * 6,
    ]
    assert found("bronte") == ["Jane Eyre"] and found("governess") == ["Jane Eyre"]
    # The code deployed before the revision still adds books, and search finds them.
    add_book_as_before("Villette", "Charlotte Brontë")
    assert sorted(found("BRONTË")) == ["Jane Eyre", "Villette"]
    if db.engine.dialect.name == "sqlite":
        assert SQLITE_TRIGGERS | {"products_search"} <= search_objects()
    else:
        assert POSTGRES_FUNCTIONS | {"ix_products_search_document", "ix_products_search_names"} <= search_objects()
        assert set(sql("SELECT extname FROM pg_extension").scalars()) >= {"unaccent", "pg_trgm"}

    downgrade(revision=BEFORE)

    assert not NEW_COLUMNS & {column["name"] for column in inspect(db.engine).get_columns("products")}
    assert search_objects() == set()
    assert sql("SELECT title FROM products ORDER BY id").scalars().all() == ["Jane Eyre", "Emma", "Villette"]

    upgrade()

    assert sorted(found("bronte")) == ["Jane Eyre", "Villette"]


def test_the_sqlite_search_triggers_exist_at_the_head_revision(db_app):
    """A later migration that recreates products on SQLite (batch mode) drops them: it must create them again."""
    with db_app.app_context():
        names = set(sql("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'products'").scalars())
        assert names >= SQLITE_TRIGGERS
        sql(
            "INSERT INTO products (title, author, description, price_cents, stock, created_at, hidden) "
            "VALUES ('Walden', 'Henry David Thoreau', '', 999, 1, CURRENT_TIMESTAMP, false)"
        )
        assert found("thoreau") == ["Walden"]
        sql("DELETE FROM products")
        assert found("thoreau") == []
