"""Idle pooled connections are pinged and replaced if dead; busy ones are not pinged."""
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from blasto.core.config import database_uri
from blasto.db_pool import ping_idle_connections


@pytest.fixture
def engine_factory(postgres_database):
    engines = []

    def build(idle_seconds: float):
        engine = create_engine(database_uri(postgres_database, None), pool_size=1, max_overflow=0)
        ping_idle_connections(engine, idle_seconds)
        engines.append(engine)
        return engine

    yield build
    for engine in engines:
        engine.dispose()


def backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def terminate(engine, pid: int) -> None:
    """Kill a backend from outside the pool, as a database restart would."""
    admin = create_engine(engine.url, poolclass=NullPool)
    with admin.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    admin.dispose()


def test_a_dead_idle_connection_is_replaced_before_use(engine_factory):
    engine = engine_factory(idle_seconds=0)  # every checkout counts as idle
    first = backend_pid(engine)
    terminate(engine, first)
    assert backend_pid(engine) != first, "the pool opened a fresh connection instead of failing"


def test_a_recently_used_connection_is_not_pinged(engine_factory):
    engine = engine_factory(idle_seconds=3600)
    first = backend_pid(engine)
    terminate(engine, first)
    with pytest.raises(OperationalError):  # no ping: the dead connection is used and fails
        backend_pid(engine)
    assert backend_pid(engine) != first, "after the failure the pool reconnects by itself"
