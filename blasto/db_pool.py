"""Check pooled Postgres connections only after they sat idle.

SQLAlchemy's `pool_pre_ping` pings on every checkout: one extra round trip
per request even when the connection was used a millisecond ago. Connections
go stale while idle (a database restart or failover, a dropped TCP session),
so this pings only those idle for IDLE_PING_SECONDS or more. A failed ping
raises DisconnectionError, on which the pool discards the connection and
opens a fresh one, as pre-ping would.
"""
from __future__ import annotations

import time

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

IDLE_PING_SECONDS = 2.0
_IDLE_SINCE = "blasto.idle_since"


def ping_idle_connections(engine: Engine, idle_seconds: float = IDLE_PING_SECONDS) -> None:
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection, record):
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, proxy):
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return  # new, or in use moments ago
        try:
            alive = dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("idle connection failed its ping") from exc
        if alive is False:
            raise DisconnectionError("idle connection failed its ping")
