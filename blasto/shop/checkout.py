"""Checkout: one transaction that decrements stock and records the purchase, awaiting its payment.

The server decides every price: unit prices come from the same UPDATE that
takes the stock (`UPDATE ... WHERE stock >= qty RETURNING price_cents`), so a
concurrent buyer can never drive stock below zero and the bill matches the
rows that were sold. Only books for sale (`FOR_SALE`, not hidden) can be
bought: a hidden book is refused like an unknown one, even if it was hidden
between the first check and the UPDATE. Rows are updated in product-id order so two orders for
the same books cannot deadlock. An idempotency key (API) makes a retried
order return the first purchase; a different order under the same key (other
books, another address or shipping option) is refused. The bill is the lines
plus the shipping option's price (blasto.shop.shipping), in integer cents;
the address is copied onto the order and kept for the shopper's next checkout.
A sale that takes a book below its low-stock threshold owes the admins an
alert in the same transaction (blasto.shop.low_stock).
With Stripe configured the order is paid by card: its PaymentIntent is made
right after the order commits (blasto.shop.card_checkout; if Stripe is down
then, the pay step makes it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from blasto.core.extensions import db
from blasto.core.shipping_settings import ShippingOption
from blasto.models import Product, Purchase, PurchaseItem
from blasto.models.purchase import STRIPE
from blasto.outbox.records import owe_order_placed
from blasto.shop import card_checkout
from blasto.shop.availability import availability
from blasto.shop.cart import MAX_LINES, CartError, check_quantity
from blasto.shop.catalog import FOR_SALE
from blasto.shop.low_stock import alert_if_crossed
from blasto.shop.money import order_total
from blasto.shop.orders import record_creation
from blasto.shop.payments import method_for_new_orders
from blasto.shop.shipping import Address, remember, shipping_cents
from blasto.shop.shown_books import UNSHOWN, changed


class CheckoutError(Exception):
    """An order that cannot be placed; the message is fit for the buyer."""


class EmptyOrder(CheckoutError):
    pass


class UnknownProducts(CheckoutError):
    def __init__(self, product_ids: list[int]):
        self.product_ids = product_ids
        super().__init__(f"No such book: {', '.join(map(str, product_ids))}.")


@dataclass(frozen=True)
class Shortage:
    product_id: int
    title: str
    requested: int
    available: int

    def message(self) -> str:
        if self.available == 0:
            return f"“{self.title}” is sold out."
        return f"Only {self.available} left of “{self.title}” (you asked for {self.requested})."


class InsufficientStock(CheckoutError):
    def __init__(self, shortages: list[Shortage]):
        self.shortages = shortages
        super().__init__(" ".join(shortage.message() for shortage in shortages))


class IdempotencyMismatch(CheckoutError):
    def __init__(self):
        super().__init__("This Idempotency-Key was already used for a different order.")


@dataclass(frozen=True)
class Shipping:
    """Where the order goes and how: both checked by the channel (blasto.shop.shipping)."""

    address: Address
    option: ShippingOption


def fingerprint(order: Mapping[int, int], shipping: Shipping | None = None) -> str:
    """Stable digest of an order (and where it ships), to tell a retry from a different order."""
    parts: list = [sorted(order.items())]
    if shipping is not None:
        parts.append([shipping.option.name, sorted(shipping.address.as_dict().items())])
    canonical = json.dumps(parts if shipping is not None else parts[0], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate(order: Mapping[int, int]) -> dict[int, int]:
    if not order:
        raise EmptyOrder("The order has no items.")
    if len(order) > MAX_LINES:
        raise CheckoutError(f"An order holds at most {MAX_LINES} different books.")
    try:
        return {int(product_id): check_quantity(quantity) for product_id, quantity in order.items()}
    except CartError as exc:
        raise CheckoutError(str(exc)) from None


def place_order(
    user_id: int, order: Mapping[int, int], shipping: Shipping, idempotency_key: str | None = None
) -> tuple[Purchase, bool]:
    """Buy `order` (product id -> quantity) for the user, shipped as `shipping`; returns (purchase, created).

    `created` is False when an idempotency key replays an earlier purchase.
    Raises a CheckoutError subclass and leaves nothing written otherwise.
    """
    order = validate(order)
    digest = fingerprint(order, shipping)
    if idempotency_key:
        earlier = _by_key(user_id, idempotency_key)
        if earlier is not None:
            return _replay(earlier, digest), False
    try:
        purchase = _buy(user_id, order, shipping, idempotency_key, digest)
        db.session.commit()
    except (IntegrityError, InsufficientStock):
        # Another request with the same key may have committed first (and
        # taken the stock this one waited for): that is a retry, not a failure.
        db.session.rollback()
        earlier = _by_key(user_id, idempotency_key) if idempotency_key else None
        if earlier is None:
            raise
        return _replay(earlier, digest), False
    except BaseException:
        db.session.rollback()
        raise
    if purchase.payment_method == STRIPE:
        card_checkout.prepare(purchase.id)
    return purchase, True


def _buy(user_id: int, order: dict[int, int], shipping: Shipping, idempotency_key: str | None, digest: str) -> Purchase:
    _refuse_unknown(order)
    prices: dict[int, int] = {}
    # Each book's stock after this sale and its low-stock threshold (blasto.shop.low_stock).
    left: dict[int, tuple[int, int | None]] = {}
    short: list[int] = []
    for product_id in sorted(order):
        quantity = order[product_id]
        taken = db.session.execute(
            update(Product)
            .where(Product.id == product_id, FOR_SALE, Product.stock >= quantity)
            .values(stock=Product.stock - quantity)
            .returning(Product.price_cents, Product.stock, Product.low_stock_threshold)
            .execution_options(**{UNSHOWN: True})  # unless a badge moves (below)
        ).first()
        if taken is None:
            short.append(product_id)
        else:
            prices[product_id] = taken.price_cents
            left[product_id] = (taken.stock, taken.low_stock_threshold)
    if short:  # place_order rolls back what was taken
        _refuse_unknown(order)  # hidden since the first check?
        raise InsufficientStock(_shortages(order, short))
    lines_cents = order_total((prices[pid], quantity) for pid, quantity in order.items())
    postage = shipping_cents(shipping.option, lines_cents)
    address = shipping.address
    purchase = Purchase(
        user_id=user_id,
        total_cents=lines_cents + postage,
        payment_method=method_for_new_orders(),
        shipping_option=shipping.option.name,
        shipping_cents=postage,
        ship_name=address.name,
        ship_line1=address.line1,
        ship_line2=address.line2,
        ship_city=address.city,
        ship_postal_code=address.postal_code,
        ship_country=address.country,
        idempotency_key=idempotency_key,
        request_fingerprint=digest,
        items=[
            PurchaseItem(product_id=pid, quantity=quantity, unit_price_cents=prices[pid])
            for pid, quantity in sorted(order.items())
        ],
    )
    db.session.add(purchase)
    db.session.flush()
    # Committed with the purchase, or not at all: its first history row and the order-placed
    # e-mail (how to pay). The receipt waits for the payment (blasto.shop.orders).
    record_creation(purchase.id, user_id)
    owe_order_placed(purchase.id, user_id)
    for product_id, (stock, threshold) in left.items():
        alert_if_crossed(product_id, purchase.id, threshold, stock + order[product_id], stock)
        if availability(stock) != availability(stock + order[product_id]):  # "Only 3 left", "Sold out"
            changed(db.session())
    remember(user_id, address)
    return purchase


def _refuse_unknown(order: dict[int, int]) -> None:
    known = set(db.session.scalars(select(Product.id).where(Product.id.in_(order), FOR_SALE)))
    unknown = sorted(set(order) - known)
    if unknown:
        raise UnknownProducts(unknown)


def _shortages(order: dict[int, int], product_ids: list[int]) -> list[Shortage]:
    rows = db.session.execute(select(Product.id, Product.title, Product.stock).where(Product.id.in_(product_ids)))
    return [Shortage(row.id, row.title, order[row.id], row.stock) for row in sorted(rows, key=lambda r: r.id)]


def _by_key(user_id: int, key: str) -> Purchase | None:
    return db.session.scalar(select(Purchase).where(Purchase.user_id == user_id, Purchase.idempotency_key == key))


def _replay(purchase: Purchase, digest: str) -> Purchase:
    if purchase.request_fingerprint != digest:
        raise IdempotencyMismatch()
    return purchase
