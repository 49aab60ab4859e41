"""Rows for tests: products and users written straight through the models."""
from __future__ import annotations

import itertools

from blasto.extensions import db
from blasto.models import Product, User

_numbers = itertools.count(1)


def add_product(title: str | None = None, *, author: str = "Ann Author", price_cents: int = 1000, stock: int = 10) -> int:
    number = next(_numbers)
    product = Product(title=title or f"Book {number:04d}", author=author, description="A book.", price_cents=price_cents, stock=stock)
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
