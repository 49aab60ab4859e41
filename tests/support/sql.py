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

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


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

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", explain)
    try:
        yield plans
    finally:
        event.remove(engine, "before_cursor_execute", explain)
