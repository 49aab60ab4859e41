"""After Postgres restarts or fails over, the next request is served: the pool replaces dead connections before use."""

import psycopg
from sqlalchemy.engine import make_url

from blasto.core.config import database_uri

TERMINATE_WAIT_MS = 10_000  # pg_terminate_backend(pid, timeout) returns once the backend has exited
TERMINATE = (
    "SELECT count(pg_terminate_backend(pid, %s)) FROM pg_stat_activity"
    " WHERE datname = %s AND application_name = 'blasto' AND pid <> pg_backend_pid()"
)


def terminate_the_apps_backends(url: str) -> int:
    """End every backend the app holds on its database, from outside its pool, as a restart would."""
    uri = database_uri(url, None)
    with psycopg.connect(uri.replace("+psycopg", ""), autocommit=True) as connection:
        return connection.execute(TERMINATE, (TERMINATE_WAIT_MS, make_url(uri).database)).fetchone()[0]


def test_the_first_request_after_the_database_dropped_the_pools_connections_is_served(pg_app, migrated_postgres):
    client = pg_app.test_client()
    assert client.get("/books").status_code == 200  # the pool now keeps an idle connection
    assert terminate_the_apps_backends(migrated_postgres) >= 1
    assert client.get("/books").status_code == 200, "a dead pooled connection was used instead of replaced"
