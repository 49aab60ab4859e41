""" "Shoppers also bought": the books most often paid for in the same orders as a given book.

Only orders whose money came in and stayed count (`SOLD`: an order awaiting
payment, cancelled or refunded says nothing about what shoppers like), and
each order counts once however many copies it holds. The counts are kept per
pair of books as orders are paid and refunded (blasto.shop.sales_counts), so
one indexed read finds a book's row. The book page keeps the cards it renders
from it until what cards show changes (blasto.site.catalog,
blasto.shop.shown_books).
"""

from __future__ import annotations

from sqlalchemy import select

from blasto.models import BookPair, Product
from blasto.shop.catalog import CARD_COLUMNS, FOR_SALE, read_cards

ALSO_BOUGHT_MAX = 4  # one row of cards on a wide screen


def also_bought(book_id: int) -> list[dict]:
    """Up to ALSO_BOUGHT_MAX other books for sale, as cards, by the paid orders they share with `book_id`, then title."""
    return read_cards(
        select(*CARD_COLUMNS)
        .join(BookPair, BookPair.other_id == Product.id)
        .where(BookPair.product_id == book_id, BookPair.orders > 0, FOR_SALE)
        .order_by(BookPair.orders.desc(), Product.title, Product.id)
        .limit(ALSO_BOUGHT_MAX)
    )
