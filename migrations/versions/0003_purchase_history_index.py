"""Index purchases by (user_id, created_at, id) for the newest-first history.

Revision ID: 0003_history_index
Revises: 0002_shop
Create Date: 2026-11-21

With `id` in the index, "newest first, then highest id" is a backward index
scan that stops after one page, instead of reading and sorting every one of
the user's purchases.
"""

from alembic import op

revision = "0003_history_index"
down_revision = "0002_shop"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_index("ix_purchases_user_id_created_at")
        batch_op.create_index("ix_purchases_user_id_created_at_id", ["user_id", "created_at", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_index("ix_purchases_user_id_created_at_id")
        batch_op.create_index("ix_purchases_user_id_created_at", ["user_id", "created_at"], unique=False)
