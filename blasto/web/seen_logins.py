"""Keep each log-in's "last active" time for the account page, without slowing or risking a request.

The loader (blasto.models.login_session) notes a log-in whose stamp is older
than SEEN_EVERY; this teardown writes it after the request's own session is
gone, so it holds no second pool connection, commits nothing of the view's,
and on SQLite takes the write lock alone. A database that cannot take the
write now loses only the stamp: the next request notes it again.
"""

from __future__ import annotations

import logging

from flask import Flask, g

from blasto.models.login_session import note_seen
from blasto.web.errors import database_errors

log = logging.getLogger(__name__)


def init_seen_logins(app: Flask) -> None:
    """Register the write; call before db.init_app, so it runs after the session's own teardowns."""
    app.teardown_appcontext(_write_seen)


def _write_seen(exc: BaseException | None = None) -> None:
    login_id = g.pop("stale_login", None)
    if login_id is None:
        return
    try:
        note_seen(login_id)
    except database_errors() as error:
        log.info("last-active time not written; the next request tries again", extra={"error": type(error).__name__})
