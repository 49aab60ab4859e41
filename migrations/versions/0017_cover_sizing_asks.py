"""Cover sizing asks: when the worker was last asked for a cover's sizes, and how often.

Revision ID: 0017_cover_sizing_asks
Revises: 0016_book_covers
Create Date: 2026-12-06

The orders sweep asks again for the sizes of a cover still unsized a while
after the last ask (the task was lost: broker down, worker killed), a few
times at most. Two columns added to book_covers (no rewrite on Postgres,
plain ADD COLUMN on SQLite); covers stored before count as asked at upload.
The code deployed before this revision never names either.
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_cover_sizing_asks"
down_revision = "0016_book_covers"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("book_covers", sa.Column("sizing_asked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("book_covers", sa.Column("sizing_asks", sa.Integer(), server_default="1", nullable=False))
    op.execute("UPDATE book_covers SET sizing_asked_at = uploaded_at WHERE sizing_asked_at IS NULL")


def downgrade():
    op.drop_column("book_covers", "sizing_asks")
    op.drop_column("book_covers", "sizing_asked_at")
