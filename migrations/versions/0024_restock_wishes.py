"""Restock wishes: shoppers waiting for a sold-out book, and the e-mail that tells them it is back.

Revision ID: 0024_restock_wishes
Revises: 0023_email_change
Create Date: 2026-12-06

A new table (its index is built with it: nothing writes to it yet) and the
outbox's kinds grow by `back_in_stock` (a CHECK swapped NOT VALID, then
validated, as in revision 0009); the e-mail names its book in the outbox's
product_id of revision 0022. The code deployed before this revision never
names the table and writes only the old kinds.
"""

import sqlalchemy as sa
from alembic import op

revision = "0024_restock_wishes"
down_revision = "0023_email_change"
branch_labels = None
depends_on = None

OLD_KINDS = (
    "('receipt', 'welcome', 'order_placed', 'shipped', 'cancelled', 'refunded', 'password_reset', 'low_stock',"
    " 'email_change', 'email_changed')"
)
KINDS = (
    "('receipt', 'welcome', 'order_placed', 'shipped', 'cancelled', 'refunded', 'password_reset', 'low_stock',"
    " 'email_change', 'email_changed', 'back_in_stock')"
)


def upgrade():
    op.create_table(
        "restock_wishes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_restock_wishes_product_id_products"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_restock_wishes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restock_wishes")),
        sa.UniqueConstraint("user_id", "product_id", name="uq_restock_wishes_user_id_product_id"),
        sqlite_autoincrement=True,  # ids never reused: the outbox key of a wish's e-mail names its id
    )
    with op.batch_alter_table("restock_wishes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_restock_wishes_product_id"), ["product_id"], unique=False)
    _replace_check("outbox_messages", "ck_outbox_messages_kind_known", f"kind IN {OLD_KINDS}", f"kind IN {KINDS}")


def downgrade():
    op.execute("DELETE FROM outbox_messages WHERE kind = 'back_in_stock'")
    _replace_check("outbox_messages", "ck_outbox_messages_kind_known", f"kind IN {KINDS}", f"kind IN {OLD_KINDS}")
    with op.batch_alter_table("restock_wishes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_restock_wishes_product_id"))
    op.drop_table("restock_wishes")


def _replace_check(table: str, name: str, old: str, new: str) -> None:
    """Swap a table's CHECK: on Postgres without holding writes for a scan; on SQLite by copying the table."""
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({new}) NOT VALID")
        op.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")
        return
    # SQLite cannot alter a constraint: batch mode copies the table with the new one.
    with op.batch_alter_table(table, schema=None, recreate="always") as batch_op:
        batch_op.drop_constraint(op.f(name), type_="check")
        batch_op.create_check_constraint(op.f(name), sa.text(new))
