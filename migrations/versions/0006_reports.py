"""Sales reports: state, progress and results of builds done by the worker.

Revision ID: 0006_reports
Revises: 0005_product_hidden
Create Date: 2026-11-21

The partial unique index allows one queued-or-running report per date range,
so a form submitted twice, or two admins asking at once, share one build.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_reports"
down_revision = "0005_product_hidden"
branch_labels = None
depends_on = None

IN_FLIGHT = sa.text("state IN ('queued', 'running')")


def upgrade():
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("date_from", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("days_csv", sa.Text(), nullable=True),
        sa.Column("books_csv", sa.Text(), nullable=True),
        sa.Column("chart_png", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_reports_state_known")),
        sa.CheckConstraint("progress >= 0 AND progress <= 100", name=op.f("ck_reports_progress_is_percent")),
        sa.CheckConstraint("date_from <= date_to", name=op.f("ck_reports_range_not_inverted")),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["users.id"], name=op.f("fk_reports_requested_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index(
            "uq_reports_range_in_flight",
            ["date_from", "date_to"],
            unique=True,
            postgresql_where=IN_FLIGHT,
            sqlite_where=IN_FLIGHT,
        )
        batch_op.create_index("ix_reports_state_heartbeat", ["state", "heartbeat_at"], unique=False)
        batch_op.create_index("ix_reports_expires_at", ["expires_at"], unique=False)


def downgrade():
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_expires_at")
        batch_op.drop_index("ix_reports_state_heartbeat")
        batch_op.drop_index("uq_reports_range_in_flight")
    op.drop_table("reports")
