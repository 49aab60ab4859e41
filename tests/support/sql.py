"""What SQL an app sends: for tests that assert a page is one query, or none."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from blasto.core.extensions import db


@contextmanager
def recorded_statements(app) -> Iterator[list[str]]:
    """Collect every statement the app's engine executes meanwhile."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    with _listening(app, record):
        yield seen


@contextmanager
def query_plans(app) -> Iterator[list[tuple[str, str]]]:
    """(statement, its EXPLAIN on Postgres) for every SELECT the app's engine runs meanwhile, with its own parameters."""
    plans: list[tuple[str, str]] = []

    def explain(conn, cursor, statement, parameters, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            probe = conn.connection.dbapi_connection.cursor()
            try:
                probe.execute("EXPLAIN " + statement, parameters)
                plans.append((statement, "\n".join(row[0] for row in probe.fetchall())))
            finally:
                probe.close()

    with _listening(app, explain):
        yield plans


@contextmanager
def _listening(app, listener) -> Iterator[None]:
    """`listener` sees each statement the app's engine is about to send, until the block ends."""
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", listener)
