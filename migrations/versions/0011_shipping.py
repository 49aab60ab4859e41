"""Shipping: an address and a shipping option on each order, and the shopper's saved addresses.

Revision ID: 0011_shipping
Revises: 0010_purchases_status_index
Create Date: 2026-12-06

The new purchase columns are nullable or have a constant default, so
Postgres adds them without rewriting the table; orders placed before this
revision read as shipping 0 with no address. The saved addresses are a new
table, so its index is built with it. The code deployed before this
revision keeps working on it: it never names the new columns.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_shipping"
down_revision = "0010_purchases_status_index"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shipping_option", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("shipping_cents", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("ship_name", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("ship_line1", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("ship_line2", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("ship_city", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("ship_postal_code", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("ship_country", sa.String(length=2), nullable=True))
    op.create_table(
        "saved_addresses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("line1", sa.String(length=100), nullable=False),
        sa.Column("line2", sa.String(length=100), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("postal_code", sa.String(length=20), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_saved_addresses_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_addresses")),
    )
    with op.batch_alter_table("saved_addresses", schema=None) as batch_op:
        batch_op.create_index("ix_saved_addresses_user_id_used_at", ["user_id", "used_at"], unique=False)


def downgrade():
    with op.batch_alter_table("saved_addresses", schema=None) as batch_op:
        batch_op.drop_index("ix_saved_addresses_user_id_used_at")
    op.drop_table("saved_addresses")
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        for column in (
            "ship_country",
            "ship_postal_code",
            "ship_city",
            "ship_line2",
            "ship_line1",
            "ship_name",
            "shipping_cents",
            "shipping_option",
        ):
            batch_op.drop_column(column)
