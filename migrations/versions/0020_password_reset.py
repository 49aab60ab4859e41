"""Password reset e-mails: the outbox's kinds grow by `password_reset`.

Revision ID: 0020_password_reset
Revises: 0019_products_stock_index
Create Date: 2026-12-06

Only a CHECK changes: on Postgres it is added NOT VALID (a moment's lock) and
then validated, which scans the table without holding writes. The reset link
needs no column: it is bound to the password hash the account already has.
The code deployed before this revision never writes the new kind.
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_password_reset"
down_revision = "0019_products_stock_index"
branch_labels = None
depends_on = None

KINDS = "('receipt', 'welcome', 'order_placed', 'shipped', 'cancelled', 'refunded', 'password_reset')"
OLD_KINDS = "('receipt', 'welcome', 'order_placed', 'shipped', 'cancelled', 'refunded')"
NAME = "ck_outbox_messages_kind_known"


def upgrade():
    _replace_check(f"kind IN {OLD_KINDS}", f"kind IN {KINDS}")


def downgrade():
    op.execute("DELETE FROM outbox_messages WHERE kind = 'password_reset'")  # links that no code could send
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
