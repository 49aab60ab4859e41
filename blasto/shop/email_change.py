"""Changing an account's e-mail: a signed link to the new address confirms it, and the old address is told.

The link's token (SECRET_KEY with its own salt, as for a reset) carries the
account, the new address and a fingerprint of the current one, so it expires
(CHANGE_LINK_LIFETIME) and dies once the address changes: it works once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from urllib.parse import urlencode

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from blasto.core.extensions import db
from blasto.models import User
from blasto.outbox.records import owe_email_change, owe_email_changed
from blasto.shop.accounts import EmailTaken

CHANGE_LINK_LIFETIME = timedelta(hours=24)
SALT = "blasto.email-change"
TAKEN = "Another account already uses this address. Log in to that one, or choose another address."
SAME = "This is already your account's address."
DEAD_LINK = "This link has expired or was already used. Ask for a new one on your account page."


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=SALT)  # type: ignore[arg-type]


def _fingerprint(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:32]


def _taken(email: str, user_id: int) -> bool:
    return db.session.scalar(select(User.id).where(User.email == email, User.id != user_id)) is not None


def ask_for_change(user: User, new_email: str) -> None:
    """Owe the confirmation e-mail to `new_email`; EmailTaken if another account has it (ValueError if it is theirs)."""
    if new_email == user.email:
        raise ValueError(SAME)
    if _taken(new_email, user.id):
        raise EmailTaken(new_email)
    owe_email_change(user, new_email)
    db.session.commit()


def change_link(page: str, user: User, new_email: str) -> str:
    """The e-mail's link, signed now by the worker: the confirm page + "?token=..." (the query is not logged)."""
    token = _serializer().dumps([user.id, new_email, _fingerprint(user.email)])
    return f"{page}?{urlencode({'token': token})}"


def change_for_token(token: str) -> tuple[User, str] | None:
    """(account, new address) a live link names; None when forged, expired or already used."""
    try:
        payload = _serializer().loads(token, max_age=int(CHANGE_LINK_LIFETIME.total_seconds()))
    except BadData:
        return None
    if not (isinstance(payload, list) and len(payload) == 3 and type(payload[0]) is int):
        return None
    user = db.session.get(User, payload[0])
    if user is None or not secrets.compare_digest(str(payload[2]), _fingerprint(user.email)):
        return None
    return user, str(payload[1])


def confirm_change(user: User, new_email: str) -> None:
    """Switch the address and tell the old one, in one transaction; EmailTaken if it was taken meanwhile."""
    if _taken(new_email, user.id):
        raise EmailTaken(new_email)
    old_email = user.email
    user.email = new_email
    owe_email_changed(user, old_email)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise EmailTaken(new_email) from None
