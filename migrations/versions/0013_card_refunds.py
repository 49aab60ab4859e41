"""Card refunds: what a card order owes its shopper back through Stripe, written with the move, made once.

Revision ID: 0013_card_refunds
Revises: 0012_card_payments
Create Date: 2026-12-07

A new table (one row per order at most), so nothing existing is rewritten or
locked; the code deployed before this revision never names it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_card_refunds"
down_revision = "0012_card_payments"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "card_refunds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purchase_id", sa.Integer(), nullable=False),
        sa.Column("payment_intent_id", sa.String(length=255), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("refund_id", sa.String(length=255), nullable=True),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_card_refunds_amount_positive")),
        sa.ForeignKeyConstraint(["purchase_id"], ["purchases.id"], name=op.f("fk_card_refunds_purchase_id_purchases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_refunds")),
        sa.UniqueConstraint("purchase_id", name=op.f("uq_card_refunds_purchase_id")),
    )
    with op.batch_alter_table("card_refunds", schema=None) as batch_op:
        batch_op.create_index("ix_card_refunds_refund_id_created_at", ["refund_id", "created_at"], unique=False)


def downgrade():
    with op.batch_alter_table("card_refunds", schema=None) as batch_op:
        batch_op.drop_index("ix_card_refunds_refund_id_created_at")
    op.drop_table("card_refunds")
