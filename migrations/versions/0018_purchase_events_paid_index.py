"""An index on purchase_events (to_status, at), built concurrently.

Revision ID: 0018_purchase_events_paid_index
Revises: 0017_cover_sizing_asks
Create Date: 2026-12-06

Serves the admin dashboard's sales by the time they were paid: the `paid`
moves of a week are a short range of it. Alone in its revision, as the
README's "Migrations on a live shop" asks of an index on a table that exists.
"""

from alembic import op

revision = "0018_purchase_events_paid_index"
down_revision = "0017_cover_sizing_asks"
branch_labels = None
depends_on = None

INDEX = "ix_purchase_events_to_status_at"


def upgrade():
    with op.get_context().autocommit_block():
        # A build that gave up (lock_timeout) leaves an invalid index of this name.
        op.drop_index(INDEX, table_name="purchase_events", if_exists=True, postgresql_concurrently=True)
        op.create_index(INDEX, "purchase_events", ["to_status", "at"], postgresql_concurrently=True)


def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index(INDEX, table_name="purchase_events", postgresql_concurrently=True)
