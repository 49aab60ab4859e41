"""Finding books: catalogue details on products, and the search each database runs.

Revision ID: 0014_finding_books
Revises: 0013_card_refunds
Create Date: 2026-12-06

The six new columns are nullable, so Postgres adds them without rewriting
the table (a moment's ACCESS EXCLUSIVE lock, within lock_timeout); books
already listed read as having no details. The code deployed before this
revision keeps working on it: it never names the new columns.

Search (blasto.shop.catalog):
- Postgres: the unaccent and pg_trgm extensions, and three IMMUTABLE SQL
  functions that the next revision indexes: `blasto_unaccent` (unaccent is
  only STABLE, since its dictionary could change, so an index needs a
  wrapper that names the dictionary), `blasto_search_document` (title,
  author and description as one weighted tsvector) and `blasto_search_names`
  (title and author as text for trigram similarity). Each names the schema
  of what it calls, so it means the same whatever the search_path (a
  restore runs with an empty one). Creating functions takes no table lock.
- SQLite: an FTS5 index over the same three columns (diacritics removed,
  case folded), kept in step with products by triggers and filled from the
  books already there. A later migration that recreates `products` on
  SQLite (batch mode's copy-and-rename) drops these triggers and must
  create them again: tests/unit/test_search_migration.py checks they exist
  at the head revision.

The downgrade drops the functions, the FTS5 table and the columns, and
keeps the extensions (other objects may use them; they cost nothing).
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_finding_books"
down_revision = "0013_card_refunds"
branch_labels = None
depends_on = None


def new_columns() -> list[sa.Column]:
    return [
        sa.Column("genre", sa.String(length=20), nullable=True),
        sa.Column("publisher", sa.String(length=200), nullable=True),
        sa.Column("year_published", sa.Integer(), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("format", sa.String(length=20), nullable=True),
        sa.Column("isbn13", sa.String(length=13), nullable=True),
    ]


# One statement: it finds the schemas (unaccent may live in a schema of its own, as on
# platforms that keep extensions apart) and writes them into the functions' bodies, in
# place of HERE (ours) and HOME (unaccent's). No `%` in it: the driver would double it.
POSTGRES_FUNCTIONS = """
DO $do$
DECLARE
    home text := quote_ident((SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                              WHERE e.extname = 'unaccent'));
    here text := quote_ident(current_schema());
BEGIN
    EXECUTE replace(replace($f$
        CREATE OR REPLACE FUNCTION HERE.blasto_unaccent(text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        AS $body$ SELECT HOME.unaccent('HOME.unaccent'::regdictionary, $1) $body$
    $f$, 'HERE', here), 'HOME', home);
    EXECUTE replace($f$
        CREATE OR REPLACE FUNCTION HERE.blasto_search_document(title text, author text, description text)
        RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $body$
            SELECT setweight(to_tsvector('pg_catalog.simple', HERE.blasto_unaccent(coalesce(title, ''))), 'A')
                || setweight(to_tsvector('pg_catalog.simple', HERE.blasto_unaccent(coalesce(author, ''))), 'B')
                || setweight(to_tsvector('pg_catalog.simple', HERE.blasto_unaccent(coalesce(description, ''))), 'C')
        $body$
    $f$, 'HERE', here);
    EXECUTE replace($f$
        CREATE OR REPLACE FUNCTION HERE.blasto_search_names(title text, author text)
        RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $body$ SELECT lower(HERE.blasto_unaccent(coalesce(title, '') || ' ' || coalesce(author, ''))) $body$
    $f$, 'HERE', here);
END
$do$
"""

SQLITE_INDEX = [
    """CREATE VIRTUAL TABLE products_search USING fts5(
        title, author, description,
        content='products', content_rowid='id',
        tokenize="unicode61 remove_diacritics 2"
    )""",
    """CREATE TRIGGER products_search_insert AFTER INSERT ON products BEGIN
        INSERT INTO products_search (rowid, title, author, description)
        VALUES (new.id, new.title, new.author, new.description);
    END""",
    """CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN
        INSERT INTO products_search (products_search, rowid, title, author, description)
        VALUES ('delete', old.id, old.title, old.author, old.description);
    END""",
    """CREATE TRIGGER products_search_update AFTER UPDATE OF title, author, description ON products BEGIN
        INSERT INTO products_search (products_search, rowid, title, author, description)
        VALUES ('delete', old.id, old.title, old.author, old.description);
        INSERT INTO products_search (rowid, title, author, description)
        VALUES (new.id, new.title, new.author, new.description);
    END""",
    "INSERT INTO products_search (products_search) VALUES ('rebuild')",
]
SQLITE_TRIGGERS = ("products_search_insert", "products_search_delete", "products_search_update")


def upgrade():
    with op.batch_alter_table("products", schema=None) as batch_op:
        for column in new_columns():
            batch_op.add_column(column)
    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(POSTGRES_FUNCTIONS)
    elif dialect == "sqlite":
        for statement in SQLITE_INDEX:
            op.execute(statement)


def downgrade():
    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS blasto_search_names(text, text)")
        op.execute("DROP FUNCTION IF EXISTS blasto_search_document(text, text, text)")
        op.execute("DROP FUNCTION IF EXISTS blasto_unaccent(text)")
    elif dialect == "sqlite":
        for trigger in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS products_search")
    with op.batch_alter_table("products", schema=None) as batch_op:
        for column in reversed(new_columns()):
            batch_op.drop_column(column.name)
