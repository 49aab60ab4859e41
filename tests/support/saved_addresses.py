"""Saved shipping addresses put straight in the table, as a checkout would have left them."""

from __future__ import annotations

from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import SavedAddress
from tests.support.factories import SHIPPING_ADDRESS


def save_address(app, user_id: int, **changes: str) -> int:
    with app.app_context():
        row = SavedAddress(user_id=user_id, **{**SHIPPING_ADDRESS, **changes})
        db.session.add(row)
        db.session.commit()
        return row.id


def saved_lines(app, user_id: int) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(SavedAddress.line1).where(SavedAddress.user_id == user_id)))
