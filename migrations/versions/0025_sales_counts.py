"""Copies sold per book and paid orders shared per pair of books, counted once and then kept.

Revision ID: 0025_sales_counts
Revises: 0024_restock_wishes
Create Date: 2026-12-06

The front page's best sellers, the catalogue's best-selling sort and the book
page's "shoppers also bought" added up every paid order on each read, so they
grew with the sales. From this revision blasto.shop.sales_counts keeps the
counts as orders are paid and refunded, and the pages read them by key.

products gains copies_sold (NOT NULL DEFAULT 0: Postgres adds it without
rewriting the table, SQLite with ALTER TABLE ADD COLUMN, so the FTS5
triggers of revision 0014 stay), and book_pairs is new. Both are filled here
from the paid and shipped orders, as `flask sales recount` does. The code
deployed before this revision never names either; an order it marks paid
during the release is counted by the next recount.
"""

import sqlalchemy as sa
from alembic import op

revision = "0025_sales_counts"
down_revision = "0024_restock_wishes"
branch_labels = None
depends_on = None

SOLD = "('paid', 'shipped')"


def upgrade():
    op.add_column("products", sa.Column("copies_sold", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "book_pairs",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_book_pairs_product_id_products"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["other_id"], ["products.id"], name=op.f("fk_book_pairs_other_id_products"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("product_id", "other_id", name=op.f("pk_book_pairs")),
    )
    op.execute(
        "UPDATE products SET copies_sold = COALESCE((SELECT SUM(purchase_items.quantity) FROM purchase_items"
        " JOIN purchases ON purchases.id = purchase_items.purchase_id"
        f" WHERE purchase_items.product_id = products.id AND purchases.status IN {SOLD}), 0)"
    )
    op.execute(
        "INSERT INTO book_pairs (product_id, other_id, orders)"
        " SELECT this.product_id, other.product_id, COUNT(DISTINCT this.purchase_id)"
        " FROM purchase_items AS this"
        " JOIN purchases ON purchases.id = this.purchase_id"
        " JOIN purchase_items AS other ON other.purchase_id = this.purchase_id AND other.product_id != this.product_id"
        f" WHERE purchases.status IN {SOLD}"
        " GROUP BY this.product_id, other.product_id"
    )


def downgrade():
    op.drop_table("book_pairs")
    op.drop_column("products", "copies_sold")
