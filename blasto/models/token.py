"""API tokens: opaque to clients, stored only as a SHA-256 digest."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, Select, String, bindparam, select
from sqlalchemy.orm import Mapped, mapped_column

from blasto.core.extensions import Model
from blasto.models.base import UTCDateTime, utcnow

TOKEN_LIFETIME = timedelta(hours=24)


def token_digest(token: str) -> str:
    """A fast hash is right here: tokens are 256 random bits, not passwords."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(Model):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @classmethod
    def issue(cls, user_id: int) -> tuple[ApiToken, str]:
        """A new token row and the plaintext, which is shown once and never stored."""
        plaintext = secrets.token_urlsafe(32)
        now = utcnow()
        return cls(
            user_id=user_id, digest=token_digest(plaintext), created_at=now, expires_at=now + TOKEN_LIFETIME
        ), plaintext


def token_by_digest() -> Select:
    """The columns a bearer check needs, for the token whose digest is bound as `digest`."""
    table = ApiToken.__table__
    return select(table.c.id.label("token_id"), table.c.user_id, table.c.expires_at, table.c.revoked_at).where(
        table.c.digest == bindparam("digest")
    )
