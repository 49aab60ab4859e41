"""An index on purchases (status, created_at, id), built concurrently.

Revision ID: 0010_purchases_status_index
Revises: 0009_order_lifecycle
Create Date: 2026-12-06

Serves the admin's list of orders in one state, newest first ("to ship"),
and the sweep that expires unpaid orders, oldest first, without reading the
paid history. Alone in its revision, as the README's "Migrations on a live
shop" asks of an index on a table that exists.
"""

from alembic import op

revision = "0010_purchases_status_index"
down_revision = "0009_order_lifecycle"
branch_labels = None
depends_on = None

INDEX = "ix_purchases_status_created_at_id"


def upgrade():
    with op.get_context().autocommit_block():
        # A build that gave up (lock_timeout) leaves an invalid index of this name.
        op.drop_index(INDEX, table_name="purchases", if_exists=True, postgresql_concurrently=True)
        op.create_index(INDEX, "purchases", ["status", "created_at", "id"], postgresql_concurrently=True)


def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index(INDEX, table_name="purchases", postgresql_concurrently=True)
