"""Each log-in's device in words, so the account page can tell sessions apart.

Revision ID: 0026_login_devices
Revises: 0025_sales_counts
Create Date: 2026-12-06

One nullable column on login_sessions, which Postgres adds without rewriting
the table and SQLite with ALTER TABLE ADD COLUMN. Log-ins made before it say
nothing of their device; the code deployed before this revision never names it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0026_login_devices"
down_revision = "0025_sales_counts"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("login_sessions", sa.Column("device", sa.String(length=100), nullable=True))


def downgrade():
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.drop_column("device")
