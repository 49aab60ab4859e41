"""An index on products (stock), built concurrently.

Revision ID: 0019_products_stock_index
Revises: 0018_purchase_events_paid_index
Create Date: 2026-12-06

Serves the admin dashboard's count of books low on stock and the catalogue
admin's low-stock list. Alone in its revision, as the README's "Migrations
on a live shop" asks of an index on a table that exists.
"""

from alembic import op

revision = "0019_products_stock_index"
down_revision = "0018_purchase_events_paid_index"
branch_labels = None
depends_on = None

INDEX = "ix_products_stock"


def upgrade():
    with op.get_context().autocommit_block():
        # A build that gave up (lock_timeout) leaves an invalid index of this name.
        op.drop_index(INDEX, table_name="products", if_exists=True, postgresql_concurrently=True)
        op.create_index(INDEX, "products", ["stock"], postgresql_concurrently=True)


def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index(INDEX, table_name="products", postgresql_concurrently=True)
