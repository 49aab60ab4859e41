"""Resetting a forgotten password: the owed e-mail, the signed link, and the reset itself.

The link carries an itsdangerous token (SECRET_KEY with its own salt) that
names the account and a fingerprint of its current password hash, so it
expires (RESET_LINK_LIFETIME) and dies as soon as the password changes: it
works once. The worker signs it when it sends the e-mail, so the database
never holds a live link. Asking never says whether an account exists: the
same answer, and an unknown address costs one query like a known one.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from urllib.parse import urlencode

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import select, update

from blasto.core.extensions import db
from blasto.models import ApiToken, User
from blasto.models.base import utcnow
from blasto.models.login_session import LoginSession
from blasto.outbox.records import owe_password_reset

RESET_LINK_LIFETIME = timedelta(hours=1)
SALT = "blasto.password-reset"  # a token signed for anything else (a session, a CSRF token) is refused here
ASKED = (
    "If an account uses that address, we have sent a link to reset its password. "
    "It works once, for 1 hour. Check your spam folder if it does not arrive in a few minutes."
)
DEAD_LINK = "This link has expired or was already used. Ask for a new one."


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=SALT)  # type: ignore[arg-type]


def _fingerprint(user: User) -> str:
    """Changes whenever the password does (a new scrypt salt every time), which ends every older link."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:32]


def ask_for_reset(email: str) -> None:
    """Owe a reset e-mail to the account using `email`, if there is one; say nothing either way.

    Rate limited per address and per client by blasto.security.rate_limits.
    """
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        db.session.rollback()
        return
    owe_password_reset(user)
    db.session.commit()


def reset_link(page: str, user: User) -> str:
    """The link the e-mail carries, signed now (by the worker, as it sends): the reset page's address + "?token=...".

    In the query string, not the path: the access log and the app's own lines
    log the path only, so no log line holds a live link.
    """
    return f"{page}?{urlencode({'token': _serializer().dumps([user.id, _fingerprint(user)])})}"


def user_for_token(token: str) -> User | None:
    """The account a live link names; None when it is forged, tampered with, expired or already used."""
    try:
        payload = _serializer().loads(token, max_age=int(RESET_LINK_LIFETIME.total_seconds()))
    except BadData:
        return None
    if not (isinstance(payload, list) and len(payload) == 2 and type(payload[0]) is int):
        return None
    user = db.session.get(User, payload[0])
    if user is None or not secrets.compare_digest(str(payload[1]), _fingerprint(user)):
        return None
    return user


def reset_password(user: User, password: str) -> None:
    """Set the new password and end every log-in and API token of the account, in one transaction."""
    user.set_password(password)
    end_logins_and_tokens(user.id)
    db.session.commit()


def end_logins_and_tokens(user_id: int) -> None:
    """End every log-in and revoke every API token of the account (in the caller's transaction)."""
    now = utcnow()
    db.session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    db.session.execute(
        update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None)).values(revoked_at=now)
    )
