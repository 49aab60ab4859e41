"""Shoppers and admins."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from blasto.core.extensions import Model
from blasto.models.base import UTCDateTime, utcnow

EMAIL_MAX = 254  # RFC 5321's longest forward path
NAME_MAX = 100


class User(UserMixin, Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    # werkzeug's scrypt: slow and salted.
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Not a column: the log-in (blasto.models.login_session) this object was loaded for.
    if TYPE_CHECKING:  # declared for mypy only: the ORM would read a runtime annotation as a column
        login_id: int | None
    login_id = None

    def get_id(self) -> str:
        """What the session and remember cookie store: the user and their log-in, so logging out can end it."""
        if self.login_id is None:
            raise RuntimeError("log the user in with blasto.models.login_session.begin_login first")
        return f"{self.id}:{self.login_id}"

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


@lru_cache(maxsize=2)
def _nobodys_hash(method: str) -> str:
    return generate_password_hash("no account has this password", method=method)


def check_nobodys_password(password: str) -> None:
    """Spend what a real password check costs, for an unknown e-mail, so timing tells nothing.

    The hash is made on first use, not at import: scrypt would slow every start.
    """
    check_password_hash(_nobodys_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
