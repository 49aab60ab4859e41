"""Hidden books, and the indexes the admin's purchase list needs.

Revision ID: 0005_product_hidden
Revises: 0004_outbox
Create Date: 2026-11-22

`products.hidden` takes a book off sale without deleting it: past purchases
still point at it. The server default fills existing rows in one statement.

`purchases (created_at, id)` lets the admin's newest-first list (all users)
stop after one page, and serves its date filters; the existing index leads
with `user_id`, so it cannot. `purchase_items (product_id)` serves the
"purchases containing this book" filter.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_product_hidden"
down_revision = "0004_outbox"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hidden", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.create_index("ix_purchases_created_at_id", ["created_at", "id"], unique=False)
    with op.batch_alter_table("purchase_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purchase_items_product_id"), ["product_id"], unique=False)


def downgrade():
    with op.batch_alter_table("purchase_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_items_product_id"))
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_index("ix_purchases_created_at_id")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("hidden")
