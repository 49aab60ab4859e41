"""Baseline: the schema history starts here.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-21

Empty on purpose: it stamps every database (Heroku Postgres, local SQLite) with
a known revision, so the release phase has a migration path from day one and
later schema changes arrive as ordinary revisions on top of it.
"""

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
