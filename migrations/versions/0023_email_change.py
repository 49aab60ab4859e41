"""E-mail change: the outbox's kinds grow by `email_change` (the link to the new address) and `email_changed`.

Revision ID: 0023_email_change
Revises: 0022_book_changes_low_stock
Create Date: 2026-12-06

Only a CHECK changes, as in 0020: on Postgres added NOT VALID (a moment's
lock) and then validated. The link needs no column: it carries the new
address and is bound to the account's current one. The code deployed before
this revision never writes the new kinds.
"""

import sqlalchemy as sa
from alembic import op

revision = "0023_email_change"
down_revision = "0022_book_changes_low_stock"
branch_labels = None
depends_on = None

OLD_KINDS = "('receipt', 'welcome', 'order_placed', 'shipped', 'cancelled', 'refunded', 'password_reset', 'low_stock')"
KINDS = (
    "('receipt', 'welcome', 'order_placed', 'shipped', 'cancelled', 'refunded', 'password_reset', 'low_stock',"
    " 'email_change', 'email_changed')"
)
NAME = "ck_outbox_messages_kind_known"


def upgrade():
    _replace_check(f"kind IN {OLD_KINDS}", f"kind IN {KINDS}")


def downgrade():
    op.execute("DELETE FROM outbox_messages WHERE kind IN ('email_change', 'email_changed')")  # no code could send them
    _replace_check(f"kind IN {KINDS}", f"kind IN {OLD_KINDS}")


def _replace_check(old: str, new: str) -> None:
    """Swap the outbox's CHECK: on Postgres without holding writes for a scan; on SQLite by copying the table."""
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE outbox_messages DROP CONSTRAINT {NAME}")
        op.execute(f"ALTER TABLE outbox_messages ADD CONSTRAINT {NAME} CHECK ({new}) NOT VALID")
        op.execute(f"ALTER TABLE outbox_messages VALIDATE CONSTRAINT {NAME}")
        return
    with op.batch_alter_table("outbox_messages", schema=None, recreate="always") as batch_op:
        batch_op.drop_constraint(op.f(NAME), type_="check")
        batch_op.create_check_constraint(op.f(NAME), sa.text(new))
