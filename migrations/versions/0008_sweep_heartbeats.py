"""Sweep heartbeats: when each periodic sweep last ran, so /readyz can tell the clock is missing.

Revision ID: 0008_sweep_heartbeats
Revises: 0007_login_sessions
Create Date: 2026-12-06

One row per sweep task, written by the worker at the end of every run.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_sweep_heartbeats"
down_revision = "0007_login_sessions"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sweep_heartbeats",
        sa.Column("task", sa.String(length=100), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("task", name=op.f("pk_sweep_heartbeats")),
    )


def downgrade():
    op.drop_table("sweep_heartbeats")
