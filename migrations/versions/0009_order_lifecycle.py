"""The life of an order: states beyond `paid`, the order history, shipping details, more e-mails.

Revision ID: 0009_order_lifecycle
Revises: 0008_sweep_heartbeats
Create Date: 2026-12-06

Existing purchases keep their status (`paid`); new ones start
`awaiting_payment` (the model's default, not the database's). New columns
are nullable or have a constant default, so Postgres adds them without
rewriting the table. A CHECK on a table that exists is added NOT VALID (a
moment's lock) and then validated, which scans the table without holding
writes. The outbox's kinds grow by the order's e-mails. The code deployed
before this revision keeps working on it: it writes `paid` and the old kinds.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_order_lifecycle"
down_revision = "0008_sweep_heartbeats"
branch_labels = None
depends_on = None

STATUSES = "('awaiting_payment', 'paid', 'shipped', 'cancelled', 'refunded')"
CAUSES = "('shopper', 'admin', 'provider', 'timeout')"
KINDS = "('receipt', 'welcome', 'order_placed', 'shipped', 'cancelled', 'refunded')"
OLD_KINDS = "('receipt', 'welcome')"


def upgrade():
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payment_method", sa.String(length=20), server_default="manual", nullable=False))
        batch_op.add_column(sa.Column("carrier", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("tracking_number", sa.String(length=100), nullable=True))
    op.create_table(
        "purchase_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purchase_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("cause", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.String(length=200), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.CheckConstraint(f"to_status IN {STATUSES}", name=op.f("ck_purchase_events_to_status_known")),
        sa.CheckConstraint(f"cause IN {CAUSES}", name=op.f("ck_purchase_events_cause_known")),
        sa.ForeignKeyConstraint(
            ["purchase_id"],
            ["purchases.id"],
            name=op.f("fk_purchase_events_purchase_id_purchases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_purchase_events_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_events")),
    )
    with op.batch_alter_table("purchase_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purchase_events_purchase_id"), ["purchase_id"], unique=False)
    _replace_check("purchases", "ck_purchases_status_known", None, f"status IN {STATUSES}")
    _replace_check("outbox_messages", "ck_outbox_messages_kind_known", f"kind IN {OLD_KINDS}", f"kind IN {KINDS}")


def downgrade():
    _replace_check("outbox_messages", "ck_outbox_messages_kind_known", f"kind IN {KINDS}", f"kind IN {OLD_KINDS}")
    _replace_check("purchases", "ck_purchases_status_known", f"status IN {STATUSES}", None)
    with op.batch_alter_table("purchase_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_events_purchase_id"))
    op.drop_table("purchase_events")
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_column("tracking_number")
        batch_op.drop_column("carrier")
        batch_op.drop_column("payment_method")


def _replace_check(table: str, name: str, old: str | None, new: str | None) -> None:
    """Swap a table's CHECK: on Postgres without holding writes for a scan; on SQLite by copying the table."""
    if op.get_context().dialect.name == "postgresql":
        if old is not None:
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        if new is not None:
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({new}) NOT VALID")
            op.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")
        return
    # SQLite cannot alter a constraint: batch mode copies the table with the new one.
    with op.batch_alter_table(table, schema=None, recreate="always") as batch_op:
        if old is not None:
            batch_op.drop_constraint(op.f(name), type_="check")
        if new is not None:
            batch_op.create_check_constraint(op.f(name), sa.text(new))
