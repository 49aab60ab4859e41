"""Rows for tests, written straight to the database: the suite's one factories module.

Each function takes the app and works in an app context of its own, so it
returns ids, never objects bound to a session that has gone. A caller already
inside a context of the same app may call them too: Flask pushes a second
context (its own database session), and the rows are committed when it returns.
Users get the test-mode password hash, made once per password.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy import func, insert, select
from werkzeug.security import generate_password_hash

from blasto.core.config import TEST_PASSWORD_HASH
from blasto.core.extensions import db
from blasto.models import OutboxMessage, Product, Purchase, PurchaseEvent, PurchaseItem, User
from blasto.models.base import utcnow
from blasto.models.outbox import PENDING, WELCOME
from blasto.models.purchase import SOLD
from blasto.shop.checkout import Shipping
from blasto.shop.sales_counts import count_order
from blasto.shop.shipping import Address, default_option, option_named

PASSWORD = "correct horse battery"
ADMIN = "admin@example.com"
# Where the tests' shoppers have their books sent (Ireland: no postal-code shape to trip on).
SHIPPING_ADDRESS = {
    "name": "Ada Reader",
    "line1": "1 Book Street",
    "line2": "",
    "city": "Dublin",
    "postal_code": "D02 X285",
    "country": "IE",
}


def shipping(option: str | None = None) -> Shipping:
    """SHIPPING_ADDRESS by `option` (the standard one unless named), for place_order; inside an app context."""
    return Shipping(Address(**SHIPPING_ADDRESS), option_named(option) if option else default_option())


@cache
def _hash(password: str) -> str:
    """The test-mode hash the app itself makes under BLASTO_ENV=test; one per password."""
    return generate_password_hash(password, method=TEST_PASSWORD_HASH)


def make_user(app, email: str = "reader@example.com", name: str = "Reader", password: str = PASSWORD) -> int:
    with app.app_context():
        user = User(email=email, name=name, password_hash=_hash(password))
        db.session.add(user)
        db.session.commit()
        return user.id


def make_book(
    app,
    title: str = "Emma",
    author: str = "Jane Austen",
    price_cents: int = 1199,
    stock: int = 5,
    age_days: float = 0,
    **details,
) -> int:
    """A book; `details` sets other columns (description, genre, publisher, year_published, pages, format, isbn13)."""
    with app.app_context():
        book = Product(
            title=title,
            author=author,
            price_cents=price_cents,
            stock=stock,
            created_at=datetime.now(UTC) - timedelta(days=age_days),
            **{"description": f"About {title}.", **details},
        )
        db.session.add(book)
        db.session.commit()
        return book.id


def make_purchase(app, user_id: int, lines: dict[int, int], age_days: float = 0, status: str = "paid") -> int:
    """A past purchase at today's prices, paid unless told otherwise, without touching stock or owing e-mails (history fixtures)."""
    with app.app_context():
        prices = {pid: db.session.get(Product, pid).price_cents for pid in lines}
        purchase = Purchase(
            user_id=user_id,
            status=status,
            total_cents=sum(prices[pid] * qty for pid, qty in lines.items()),
            created_at=datetime.now(UTC) - timedelta(days=age_days),
            items=[
                PurchaseItem(product_id=pid, quantity=qty, unit_price_cents=prices[pid]) for pid, qty in lines.items()
            ],
        )
        db.session.add(purchase)
        db.session.flush()
        if status in SOLD:  # as blasto.shop.orders counts a paid order
            count_order(purchase.id, 1)
        db.session.commit()
        return purchase.id


def user_id_for(app, email: str) -> int | None:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == email))


def stock_of(app, product_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(Product.stock).where(Product.id == product_id))


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def make_admin(app, email: str = ADMIN, name: str = "Ada Admin") -> int:
    user_id = make_user(app, email=email, name=name)
    with app.app_context():
        db.session.get(User, user_id).is_admin = True
        db.session.commit()
    return user_id


def set_hidden(app, product_id: int, hidden: bool = True) -> None:
    with app.app_context():
        db.session.get(Product, product_id).hidden = hidden
        db.session.commit()


def book_row(app, product_id: int) -> dict:
    """The book's columns as a dict, read fresh."""
    with app.app_context():
        book = db.session.get(Product, product_id)
        return {
            column: getattr(book, column)
            for column in ("title", "author", "description", "price_cents", "stock", "hidden")
        }


def set_purchase_time(app, purchase_id: int, when: datetime) -> None:
    with app.app_context():
        db.session.get(Purchase, purchase_id).created_at = when
        db.session.commit()


def record_move(app, purchase_id: int, to_status: str, at: datetime, from_status: str = "awaiting_payment") -> None:
    """A history row as blasto.shop.orders writes it (without the move: set the purchase's status yourself)."""
    with app.app_context():
        db.session.add(
            PurchaseEvent(purchase_id=purchase_id, at=at, from_status=from_status, to_status=to_status, cause="admin")
        )
        db.session.commit()


def owe_receipt_row(app, purchase_id: int, state: str = "pending", last_error: str | None = None) -> None:
    """The receipt row checkout writes, in a chosen state."""
    with app.app_context():
        user_id = db.session.get(Purchase, purchase_id).user_id
        db.session.add(
            OutboxMessage(
                key=f"receipt:{purchase_id}",
                kind="receipt",
                state=state,
                recipient="buyer@example.com",
                user_id=user_id,
                purchase_id=purchase_id,
                attempts=1,
                last_error=last_error,
            )
        )
        db.session.commit()


def owe_lost_email(app, age_seconds: float, *, state: str = PENDING, key: str = "welcome:1") -> None:
    """An outbox row owed `age_seconds` ago whose send is not queued (a core INSERT: its commit queues nothing)."""
    now = utcnow()
    with app.app_context():
        db.session.execute(
            insert(OutboxMessage).values(
                kind=WELCOME,
                key=key,
                recipient="ada@example.com",
                state=state,
                created_at=now - timedelta(seconds=age_seconds),
                next_attempt_at=now + timedelta(hours=1),
            )
        )
        db.session.commit()
