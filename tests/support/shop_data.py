"""Rows for tests: products and users written straight through the models."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import insert

from blasto.core.extensions import db
from blasto.models import OutboxMessage, Product, User
from blasto.models.base import utcnow
from blasto.models.outbox import PENDING, WELCOME

_numbers = itertools.count(1)


def add_product(
    title: str | None = None, *, author: str = "Ann Author", price_cents: int = 1000, stock: int = 10
) -> int:
    number = next(_numbers)
    product = Product(
        title=title or f"Book {number:04d}", author=author, description="A book.", price_cents=price_cents, stock=stock
    )
    db.session.add(product)
    db.session.commit()
    return product.id


def add_user(email: str, password: str = "correct horse battery", name: str = "Reader") -> int:
    user = User(email=email.lower(), name=name)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user.id


def stock_of(product_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Product, product_id).stock


def owe_lost_email(age_seconds: float, *, state: str = PENDING, key: str = "welcome:1") -> None:
    """An outbox row owed `age_seconds` ago whose send is not queued (a core INSERT: its commit queues nothing)."""
    now = utcnow()
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
