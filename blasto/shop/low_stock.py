"""Low-stock alerts: a sale that takes a book from its threshold or more to fewer owes every admin an e-mail.

Checkout takes stock with one `UPDATE ... RETURNING` per book, so each sale
sees the stock just before and just after its own take, with the row
locked: of any number of sales racing down past a threshold exactly one
sees itself cross it. A restock to the threshold or above re-arms the alert
(the next sale below crosses again); a threshold of None means no alert.
"""

from __future__ import annotations

from blasto.outbox.records import owe_low_stock


def crossed(threshold: int | None, before: int, after: int) -> bool:
    """Whether a take from `before` to `after` copies passes the threshold on its way down."""
    return threshold is not None and before >= threshold > after


def alert_if_crossed(product_id: int, purchase_id: int, threshold: int | None, before: int, after: int) -> bool:
    """Owe the admins their alert, in the sale's transaction, when this sale crossed; returns whether it did."""
    if not crossed(threshold, before, after):
        return False
    owe_low_stock(product_id, purchase_id)
    return True
