"""An autocommit connection for the API's hottest reads, one per request.

Through the ORM session a read costs a pool ping, BEGIN, the query and a
ROLLBACK: four round trips to Postgres for one answer. On an autocommit
connection (psycopg sets the flag client-side) it is the ping and the query.
Only single-statement reads use it; anything that writes, or must see a
consistent snapshot across statements, stays on `db.session`.
"""
from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.engine import Connection

from blasto.core.extensions import db

_KEY = "blasto.autocommit_engine"


def read_connection() -> Connection:
    connection = g.get("_read_connection")
    if connection is None:
        engine = current_app.extensions.get(_KEY)
        if engine is None:
            engine = current_app.extensions[_KEY] = db.engine.execution_options(isolation_level="AUTOCOMMIT")
        connection = g._read_connection = engine.connect()
    return connection


def close_read_connection(exc: BaseException | None = None) -> None:
    connection = g.pop("_read_connection", None)
    if connection is not None:
        connection.close()


def register_reads(app: Flask) -> None:
    app.teardown_appcontext(close_read_connection)
