"""Opening an account: the user and their welcome e-mail, in one transaction."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from blasto.core.extensions import db
from blasto.models import User
from blasto.outbox.records import owe_welcome


class EmailTaken(Exception):
    """The same address signed up first (compared case-insensitively)."""


def sign_up(email: str, name: str, password: str) -> User:
    user = User(email=email, name=name)
    user.set_password(password)
    db.session.add(user)
    try:
        db.session.flush()
        owe_welcome(user)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise EmailTaken(email) from None
    return user
