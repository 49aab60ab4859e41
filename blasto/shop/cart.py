"""The cart: product id -> quantity, kept in the signed session cookie.

Pure functions over plain dicts so the rules are the same wherever a cart
lives, and easy to test exhaustively. Prices are never stored in the cart:
they are read from the database whenever a cart is shown or bought.
"""

from __future__ import annotations

MAX_QUANTITY = 100  # per line; a bookshop order of more is a typo or an attack
MAX_LINES = 50


class CartError(ValueError):
    """A change the cart refuses, with a message fit for the shopper."""


def check_quantity(quantity: int) -> int:
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise CartError("Quantity must be a whole number.")
    if quantity < 1:
        raise CartError("Quantity must be at least 1.")
    if quantity > MAX_QUANTITY:
        raise CartError(f"At most {MAX_QUANTITY} copies of one book per order.")
    return quantity


def capped(quantity: int, stock: int) -> int:
    """`quantity` cut down to the stock there is (0 when there is none)."""
    return max(0, min(quantity, stock))


def add(cart: dict[int, int], product_id: int, quantity: int = 1) -> dict[int, int]:
    check_quantity(quantity)
    if product_id not in cart and len(cart) >= MAX_LINES:
        raise CartError(f"A cart holds at most {MAX_LINES} different books.")
    held = cart.get(product_id, 0)
    if held + quantity > MAX_QUANTITY:
        raise CartError(f"At most {MAX_QUANTITY} copies of one book per order (your cart has {held}).")
    return {**cart, product_id: held + quantity}


def set_quantity(cart: dict[int, int], product_id: int, quantity: int) -> dict[int, int]:
    """Quantity 0 removes the line; otherwise it must be a valid quantity."""
    if quantity == 0:
        return remove(cart, product_id)
    if product_id not in cart:
        raise CartError("That book is not in your cart.")
    return {**cart, product_id: check_quantity(quantity)}


def remove(cart: dict[int, int], product_id: int) -> dict[int, int]:
    new = dict(cart)
    new.pop(product_id, None)
    return new


def from_session(raw) -> dict[int, int]:
    """Read a cart from the session, dropping anything malformed (it is client-held)."""
    cart: dict[int, int] = {}
    if not isinstance(raw, dict):
        return cart
    for key, value in raw.items():
        try:
            product_id, quantity = int(key), int(value)
        except (TypeError, ValueError):
            continue
        if product_id > 0 and 1 <= quantity <= MAX_QUANTITY and len(cart) < MAX_LINES:
            cart[product_id] = quantity
    return cart


def to_session(cart: dict[int, int]) -> dict[str, int]:
    """JSON object keys are strings."""
    return {str(product_id): quantity for product_id, quantity in cart.items()}
