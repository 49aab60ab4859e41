"""The outbox's states grow by `withdrawn`: an e-mail owed, then no longer true, is not sent.

Revision ID: 0027_outbox_withdrawn
Revises: 0026_login_devices
Create Date: 2026-12-06

A back-in-stock e-mail whose book sold out again (or was hidden) before the
worker's turn is withdrawn, not failed: nothing is wrong and nothing should be
retried. The CHECK is swapped NOT VALID, then validated, as in revision 0024.
The code deployed before this revision writes only the old states and reads
rows by the ones it knows.
"""

import sqlalchemy as sa
from alembic import op

revision = "0027_outbox_withdrawn"
down_revision = "0026_login_devices"
branch_labels = None
depends_on = None

OLD_STATES = "('pending', 'sent', 'failed')"
STATES = "('pending', 'sent', 'failed', 'withdrawn')"
CHECK = "ck_outbox_messages_state_known"


def upgrade():
    _replace_check("outbox_messages", CHECK, f"state IN {OLD_STATES}", f"state IN {STATES}")


def downgrade():
    op.execute("UPDATE outbox_messages SET state = 'failed' WHERE state = 'withdrawn'")
    _replace_check("outbox_messages", CHECK, f"state IN {STATES}", f"state IN {OLD_STATES}")


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
