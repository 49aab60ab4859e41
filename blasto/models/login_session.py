"""One row per log-in: what a page session (and its remember cookie) stands for.

Flask's session is a signed cookie, so logging out could only ask the browser
to forget it: a copy (a shared computer, a stolen cookie) stayed valid. The
cookie now names its log-in row, and logging out ends the row, so every copy
of that session stops working, while the user's other sessions go on.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, select, update
from sqlalchemy.orm import Mapped, mapped_column

from blasto.core.extensions import Model, db, login_manager
from blasto.models.base import UTCDateTime, utcnow
from blasto.models.user import User


class LoginSession(Model):
    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


def begin_login(user: User) -> None:
    """Record a new log-in for `user` (committed) and bind it to the object Flask-Login stores."""
    login = LoginSession(user_id=user.id)
    db.session.add(login)
    db.session.commit()
    user.login_id = login.id


def end_login(user: User) -> None:
    """End the log-in this user object came from; any copy of its cookies is refused from now on."""
    if user.login_id is None:
        return
    db.session.execute(
        update(LoginSession)
        .where(LoginSession.id == user.login_id, LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    db.session.commit()


@login_manager.user_loader
def user_for_login(ident: str) -> User | None:
    """Flask-Login's loader: "<user id>:<log-in id>" of a log-in not yet ended, else nobody."""
    user_part, _, login_part = (ident or "").partition(":")
    try:
        user_id, login_id = int(user_part), int(login_part)
    except ValueError:  # malformed, or a cookie from before log-ins were recorded
        return None
    user = db.session.scalar(
        select(User)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(User.id == user_id, LoginSession.id == login_id, LoginSession.ended_at.is_(None))
    )
    if user is not None:
        user.login_id = login_id
    return user
