"""Signed-in shoppers' carts: one row per (account, book).

Revision ID: 0021_cart_lines
Revises: 0020_password_reset
Create Date: 2026-12-06

A new table, so nothing in use is locked; its primary key (user_id,
product_id) is the one line per book per account and serves the only
lookup (a user's lines). The code deployed before this revision never
names it; carts already in session cookies are moved into it at the
shopper's next log-in (or next page, for a shopper already signed in).
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_cart_lines"
down_revision = "0020_password_reset"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "cart_lines",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_cart_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_cart_lines_product_id_products"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_cart_lines_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "product_id", name=op.f("pk_cart_lines")),
    )


def downgrade():
    op.drop_table("cart_lines")
