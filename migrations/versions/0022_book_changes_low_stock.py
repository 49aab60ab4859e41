"""Admins' book changes on record, and low-stock alerts.

Revision ID: 0022_book_changes_low_stock
Revises: 0021_cart_lines
Create Date: 2026-12-06

A new table, book_changes (its index built with it: nothing writes to a
table that did not exist). One nullable column on products, which Postgres
adds without rewriting the table and SQLite with ALTER TABLE ADD COLUMN (no
copy-and-rename, so the FTS5 triggers of revision 0014 stay); books have no
threshold, so no alert, until an admin sets one. The outbox gains a nullable
product_id and the `low_stock` kind; its CHECK is swapped as in revision
0009 (NOT VALID, then validated). The code deployed before this revision
never names any of them and writes only the old kinds.
"""

import sqlalchemy as sa
from alembic import op

revision = "0022_book_changes_low_stock"
down_revision = "0021_cart_lines"
branch_labels = None
depends_on = None

OLD_KINDS = "('receipt', 'welcome', 'order_placed', 'shipped', 'cancelled', 'refunded', 'password_reset')"
KINDS = "('receipt', 'welcome', 'order_placed', 'shipped', 'cancelled', 'refunded', 'password_reset', 'low_stock')"


def upgrade():
    op.create_table(
        "book_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_book_changes_product_id_products"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_book_changes_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_book_changes")),
    )
    op.create_index("ix_book_changes_product_id_at_id", "book_changes", ["product_id", "at", "id"], unique=False)
    op.add_column("products", sa.Column("low_stock_threshold", sa.Integer(), nullable=True))
    op.add_column("outbox_messages", sa.Column("product_id", sa.Integer(), nullable=True))
    _replace_check("outbox_messages", "ck_outbox_messages_kind_known", f"kind IN {OLD_KINDS}", f"kind IN {KINDS}")


def downgrade():
    op.execute("DELETE FROM outbox_messages WHERE kind = 'low_stock'")
    _replace_check("outbox_messages", "ck_outbox_messages_kind_known", f"kind IN {KINDS}", f"kind IN {OLD_KINDS}")
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("product_id")
    op.drop_column("products", "low_stock_threshold")
    op.drop_index("ix_book_changes_product_id_at_id", table_name="book_changes")
    op.drop_table("book_changes")


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
