"""Book covers: the uploaded originals and their sizes, and which cover a book shows.

Revision ID: 0016_book_covers
Revises: 0015_search_indexes
Create Date: 2026-12-06

A new table (no lock on anything in use) and one nullable column on
products, which Postgres adds without rewriting the table and SQLite adds
with ALTER TABLE ADD COLUMN (no copy-and-rename, so the FTS5 triggers of
revision 0014 stay). The code deployed before this revision never names
either.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_book_covers"
down_revision = "0015_search_indexes"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "book_covers",
        sa.Column("product_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=20), nullable=False),
        sa.Column("original", sa.LargeBinary(), nullable=False),
        sa.Column("small", sa.LargeBinary(), nullable=True),
        sa.Column("large", sa.LargeBinary(), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sized_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_book_covers_product_id_products"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_book_covers")),
    )
    op.add_column("products", sa.Column("cover_digest", sa.String(length=64), nullable=True))


def downgrade():
    op.drop_column("products", "cover_digest")
    op.drop_table("book_covers")
