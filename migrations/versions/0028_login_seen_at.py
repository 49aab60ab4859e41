"""When each log-in was last used, so the account page can say which sessions are still in use.

Revision ID: 0028_login_seen_at
Revises: 0027_outbox_withdrawn
Create Date: 2026-12-06

One nullable column on login_sessions, which Postgres adds without rewriting
the table and SQLite with ALTER TABLE ADD COLUMN. Log-ins made before it show
no last-active time until they are next used; the code deployed before this
revision never names it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0028_login_seen_at"
down_revision = "0027_outbox_withdrawn"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("login_sessions", sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.drop_column("seen_at")
