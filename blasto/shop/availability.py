"""What a shopper is told about a book's stock: sold out, only a few left, or in stock.

The exact count is shown only when it is low, where it helps a shopper
decide; above that it would only change the page at every sale.
"""

from __future__ import annotations

from typing import NamedTuple

LOW_STOCK = 5  # at most this many copies: the page says how many are left
SOLD_OUT, LOW, IN_STOCK = "out", "low", "in"


class Availability(NamedTuple):
    kind: str  # SOLD_OUT, LOW or IN_STOCK (the pages' badge modifier)
    words: str


def availability(stock: int) -> Availability:
    if stock < 1:
        return Availability(SOLD_OUT, "Sold out")
    if stock <= LOW_STOCK:
        return Availability(LOW, f"Only {stock:,} left")
    return Availability(IN_STOCK, "In stock")
