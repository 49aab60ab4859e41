"""A year of made-up sales, so that reports have something to chew on.

Review apps and local stacks start with an empty order history; a sales report
over it would be a flat line. `flask seed --sales N` adds N purchases by a few
sample shoppers (addresses at example.com, which receives no mail; passwords
nobody knows), spread over the past year with a weekly rhythm and some growth,
popular books selling more. They are history only: stock is not touched and no
receipt is owed. The books' sales counts are counted again afterwards.

The sales are numbered and drawn from a fixed seed, and each carries its
number as its idempotency key, so running the command again adds only the
ones missing: `--sales 1000` twice leaves 1000, then `--sales 5000` adds 4000.
"""

from __future__ import annotations

import random
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, text
from werkzeug.security import generate_password_hash

from blasto.core.extensions import db
from blasto.models import Product, Purchase, PurchaseItem, User
from blasto.shop.sales_counts import recount

SHOPPERS = 40
KEY_PREFIX = "sample-sale:"
BATCH = 2000
DAYS = 365


def shopper_email(number: int) -> str:
    return f"sample.shopper{number:02d}@example.com"


def seed_sales(count: int, now: datetime | None = None) -> int:
    """Add the missing sample sales up to `count`; return how many were added."""
    existing = db.session.execute(
        select(func.count()).select_from(Purchase).where(Purchase.idempotency_key.like(f"{KEY_PREFIX}%"))
    ).scalar_one()
    if existing >= count:
        return 0
    books = db.session.execute(select(Product.id, Product.price_cents).order_by(Product.id)).all()
    if not books:
        raise ValueError("the catalogue is empty: seed the books first")
    shoppers = _shoppers()
    draws = _draws(count, len(books), now or datetime.now(UTC))
    added = 0
    for start in range(existing, count, BATCH):
        batch = draws[start : min(count, start + BATCH)]
        purchases = [
            {
                "user_id": shoppers[number % SHOPPERS],
                "created_at": when,
                "total_cents": sum(books[book][1] * quantity for book, quantity in lines),
                "status": "paid",
                "idempotency_key": f"{KEY_PREFIX}{number}",
            }
            for number, when, lines in batch
        ]
        ids = db.session.scalars(insert(Purchase).returning(Purchase.id, sort_by_parameter_order=True), purchases).all()
        items = [
            {
                "purchase_id": purchase_id,
                "product_id": books[book][0],
                "quantity": quantity,
                "unit_price_cents": books[book][1],
            }
            for purchase_id, (_, _, lines) in zip(ids, batch)
            for book, quantity in lines
        ]
        db.session.execute(insert(PurchaseItem), items)
        db.session.commit()
        added += len(batch)
    _analyze()  # before recount: its plan, made on an empty table's statistics, took a minute instead of a second
    recount()  # the best sellers and "shoppers also bought" count the history too
    db.session.commit()
    return added


def _analyze() -> None:
    """Refresh the planner's statistics on the tables just loaded, as Postgres advises after a bulk load.

    Autovacuum would get to it later; until then the planner believes the
    tables still hold the handful of rows they had before the load.
    """
    for table in (Purchase.__tablename__, PurchaseItem.__tablename__):
        db.session.execute(text(f"ANALYZE {table}"))


def _shoppers() -> list[int]:
    emails = [shopper_email(number) for number in range(SHOPPERS)]
    known = dict(db.session.execute(select(User.email, User.id).where(User.email.in_(emails))).all())
    missing = [email for email in emails if email not in known]
    if missing:
        unusable = generate_password_hash(secrets.token_urlsafe(32))  # one slow hash for all of them
        db.session.add_all(
            User(email=email, name=f"Sample shopper {email[14:16]}", password_hash=unusable) for email in missing
        )
        db.session.commit()
        known = dict(db.session.execute(select(User.email, User.id).where(User.email.in_(emails))).all())
    return [known[email] for email in emails]


def _draws(count: int, book_count: int, now: datetime) -> list[tuple[int, datetime, list[tuple[int, int]]]]:
    """Sale number, time and (book index, quantity) lines for sales 0..count-1, the same on every run."""
    rng = random.Random(20261121)
    popularity = [1 / (rank + 1) ** 0.8 for rank in range(book_count)]  # a long tail of slow sellers
    rank_of = list(range(book_count))
    rng.shuffle(rank_of)  # rank_of[rank] is a book: the same permutation as before, read the other way
    weights = [0.0] * book_count
    for rank, book in enumerate(rank_of):
        weights[book] = popularity[rank]
    day_weights = [
        (1 + day / DAYS) * (1.6 if (now - timedelta(days=day)).weekday() >= 5 else 1.0) for day in range(DAYS)
    ]
    draws = []
    for number in range(count):
        day = rng.choices(range(DAYS), weights=day_weights)[0]
        when = now - timedelta(days=day, seconds=rng.randrange(86_400))
        picked = set(rng.choices(range(book_count), weights=weights, k=rng.choice((1, 1, 1, 2, 2, 3, 4))))
        draws.append((number, when, [(book, rng.choice((1, 1, 1, 1, 2, 2, 3))) for book in sorted(picked)]))
    return draws
