"""Search indexes on Postgres: full text (GIN over the weighted document) and trigrams (for typos).

Revision ID: 0015_search_indexes
Revises: 0014_finding_books
Create Date: 2026-12-06

Built concurrently, so checkouts go on writing products while they build,
and alone in their revision (a concurrent build cannot run in the
revision's transaction; see the README, "Migrations on a live shop"). A
build that gave up leaves an invalid index of the same name, dropped first.
The expressions are the ones blasto.shop.catalog queries, word for word,
or Postgres would not use the indexes. SQLite has its FTS5 table instead
(revision 0014): nothing to do there.
"""

from alembic import op

revision = "0015_search_indexes"
down_revision = "0014_finding_books"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_products_search_document": "USING gin (blasto_search_document(title, author, description))",
    "ix_products_search_names": "USING gin (blasto_search_names(title, author) gin_trgm_ops)",
}


def upgrade():
    if op.get_context().dialect.name != "postgresql":
        return
    with op.get_context().autocommit_block():
        for name, definition in INDEXES.items():
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            op.execute(f"CREATE INDEX CONCURRENTLY {name} ON products {definition}")


def downgrade():
    if op.get_context().dialect.name != "postgresql":
        return
    with op.get_context().autocommit_block():
        for name in INDEXES:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
