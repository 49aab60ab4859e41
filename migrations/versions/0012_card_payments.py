"""Card payments: each order's Stripe PaymentIntent, and the provider's events, stored once.

Revision ID: 0012_card_payments
Revises: 0011_shipping
Create Date: 2026-12-07

The purchase column is nullable, so Postgres adds it without rewriting the
table; its unique index is built on an empty column. The events are a new
table. The code deployed before this revision keeps working on it: it
never names either.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_card_payments"
down_revision = "0011_shipping"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payment_intent_id", sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_purchases_payment_intent_id"), ["payment_intent_id"])
    op.create_table(
        "payment_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("object_id", sa.String(length=255), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_events")),
        sa.UniqueConstraint("provider", "event_id", name="uq_payment_events_provider_event_id"),
    )
    with op.batch_alter_table("payment_events", schema=None) as batch_op:
        batch_op.create_index("ix_payment_events_applied_at_received_at", ["applied_at", "received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_payment_events_object_id"), ["object_id"], unique=False)


def downgrade():
    with op.batch_alter_table("payment_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_events_object_id"))
        batch_op.drop_index("ix_payment_events_applied_at_received_at")
    op.drop_table("payment_events")
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_purchases_payment_intent_id"), type_="unique")
        batch_op.drop_column("payment_intent_id")
