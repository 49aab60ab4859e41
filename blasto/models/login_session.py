"""One row per log-in: what a page session (and its remember cookie) stands for.

Flask's session is a signed cookie, so logging out could only ask the browser
to forget it: a copy (a shared computer, a stolen cookie) stayed valid. The
cookie now names its log-in row, and logging out ends the row, so every copy
of that session stops working, while the user's other sessions go on.

`seen_at` says when the log-in was last used, to the nearest SEEN_EVERY: the
loader notes a stale one in `g` and blasto.web.seen_logins writes it after the
request, on its own short transaction, so a page never waits for it and a
view's transaction is never committed by it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import g
from sqlalchemy import ForeignKey, Integer, String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from blasto.core.extensions import Model, db, login_manager
from blasto.models.base import UTCDateTime, utcnow
from blasto.models.user import User

# How stale "last active" may be: at most one write per log-in this often, however busy it is.
SEEN_EVERY = timedelta(minutes=5)


class LoginSession(Model):
    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The browser and system it logged in from, in words (blasto.web.devices), so the account page
    # can tell sessions apart; None when the User-Agent named nothing known (or before revision 0026).
    device: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # When the log-in was last used (within SEEN_EVERY); None before revision 0028.
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


def begin_login(user: User, device: str | None = None) -> None:
    """Record a new log-in for `user` (committed) and bind it to the object Flask-Login stores."""
    login = LoginSession(user_id=user.id, device=device, seen_at=utcnow())
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
    found = db.session.execute(
        select(User, LoginSession.seen_at)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(User.id == user_id, LoginSession.id == login_id, LoginSession.ended_at.is_(None))
    ).first()
    if found is None:
        return None
    user, seen_at = found
    user.login_id = login_id
    if seen_at is None or seen_at < utcnow() - SEEN_EVERY:
        g.stale_login = login_id  # blasto.web.seen_logins writes it once the request is over
    return user


# A stamp is not worth a wait: it gives up on a lock held this long (the next request tries again).
SEEN_LOCK_WAIT_MS = 200


def note_seen(login_id: int) -> None:
    """Stamp the log-in as used now, on a connection of its own (committed); a fresher stamp is left alone.

    Raises the database's error when the row or the database stays locked past SEEN_LOCK_WAIT_MS.
    """
    now = utcnow()
    stamp = (
        update(LoginSession)
        .where(LoginSession.id == login_id)
        .where(LoginSession.seen_at.is_(None) | (LoginSession.seen_at < now - SEEN_EVERY))
        .values(seen_at=now)
    )
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = {SEEN_LOCK_WAIT_MS}")
            connection.execute(stamp)
            connection.commit()
            return
        # SQLite's wait is the connection's own setting: shorten it for this write, then give it back.
        waited = int(connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one())
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {SEEN_LOCK_WAIT_MS}")
        try:
            connection.execute(stamp)
            connection.commit()
        finally:
            connection.rollback()
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {waited}")
