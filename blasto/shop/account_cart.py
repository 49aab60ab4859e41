"""A signed-in shopper's cart, kept in the database against the account.

The same {product id: quantity} shape as the session cart (blasto.shop.cart),
so the rules and the pages do not care where a cart lives. Writes are
upserts, so two devices saving at once never collide on the one line per
book; each function commits, as a cart change is a request's whole work.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from blasto.core.extensions import db
from blasto.models import CartLine, Product
from blasto.models.base import utcnow
from blasto.shop import cart as rules
from blasto.shop.catalog import FOR_SALE


def load(user_id: int) -> dict[int, int]:
    rows = db.session.execute(select(CartLine.product_id, CartLine.quantity).where(CartLine.user_id == user_id))
    return {row.product_id: row.quantity for row in rows}


def store(user_id: int, cart: dict[int, int], was: dict[int, int] | None = None) -> None:
    """Make the account's cart `cart`, then commit.

    `was` is the cart as the caller read it: only what changed since is
    written (lines dropped deleted, lines new or changed upserted), so a line
    another device changed meanwhile stands. Without it, the stored cart is read now.
    """
    held = load(user_id) if was is None else was
    gone = [product_id for product_id in held if product_id not in cart]
    if gone:
        db.session.execute(delete(CartLine).where(CartLine.user_id == user_id, CartLine.product_id.in_(gone)))
    changed = {product_id: quantity for product_id, quantity in cart.items() if held.get(product_id) != quantity}
    if changed:
        dialect = {"postgresql": postgresql, "sqlite": sqlite}[db.session.get_bind().dialect.name]
        now = utcnow()
        insert = dialect.insert(CartLine).values(
            [
                {"user_id": user_id, "product_id": product_id, "quantity": quantity, "updated_at": now}
                for product_id, quantity in changed.items()
            ]
        )
        db.session.execute(
            insert.on_conflict_do_update(
                index_elements=[CartLine.user_id, CartLine.product_id],
                set_={"quantity": insert.excluded.quantity, "updated_at": insert.excluded.updated_at},
            )
        )
    db.session.commit()


def merge(user_id: int, anonymous: dict[int, int]) -> bool:
    """Add a cart from before log-in to the account's, as adding each book would; commit.

    Quantities add up, capped at the stock (never lowering what the account
    already holds) and at the cart's own limits; a book no longer for sale
    or sold out is left out. False when anything was cut down or left out.
    """
    if not anonymous:
        return True
    was = load(user_id)
    cart = dict(was)
    rows = db.session.execute(select(Product.id, Product.stock).where(Product.id.in_(anonymous), FOR_SALE))
    stock = {row.id: row.stock for row in rows}
    whole = True
    for product_id, quantity in sorted(anonymous.items()):
        held = cart.get(product_id, 0)
        allowed = min(rules.capped(quantity, stock.get(product_id, 0) - held), rules.MAX_QUANTITY - held)
        if allowed < quantity:
            whole = False
        if allowed < 1:
            continue
        try:
            cart = rules.add(cart, product_id, allowed)
        except rules.CartError:  # the cart already holds as many different books as it may
            whole = False
    store(user_id, cart, was=was)
    return whole
