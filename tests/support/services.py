"""Reaching the real Postgres and Redis, or saying clearly why a test cannot."""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support.parallel import worker_count, worker_index

REQUIRE_ENV = "BLASTO_REQUIRE_SERVICES"


def unavailable(reason: str):
    """Skip on a bare laptop; fail when the run requires services (CI)."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1 turns this skip into a failure)", pytrace=False)
    pytest.skip(reason)


def postgres_admin_url() -> str:
    url = os.environ.get("BLASTO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3):
            pass
    except Exception as exc:
        unavailable(f"Postgres unreachable at {urlsplit(url).hostname}: {type(exc).__name__}")
    return url


def fresh_database_url(admin_url: str, prefix: str = "blasto_test") -> tuple[str, str]:
    """Create an empty database; return its Heroku-style postgres:// URL and name."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin_url)
    return urlunsplit(("postgres", parts.netloc, f"/{name}", "", "")), name


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_test_url() -> str:
    """A Redis database index of the tests' own (this worker's, under xdist), emptied first."""
    return _emptied(
        worker_redis_url(os.environ.get("BLASTO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"), worker_index())
    )


def spare_redis_test_url() -> str:
    """A second Redis database for this worker, emptied: the one as far below the run's range as this worker's is in it.

    For a second Procfile stack beside the browser package's (tests/browser/test_card_payment.py):
    a run on N workers from base B uses B..B-N+1, and these B-N..B-2N+1 (CI's bases, 15 and 7, leave
    room for it up to 4 workers each).
    """
    base = os.environ.get("BLASTO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    return _emptied(worker_redis_url(base, worker_index() + worker_count()))


def _emptied(url: str) -> str:
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=3)
        client.flushdb()
        client.close()
    except Exception as exc:
        unavailable(
            f"Redis unreachable at {urlsplit(url).hostname} (database {urlsplit(url).path[1:]}): {type(exc).__name__}"
        )
    return url


REDIS_DATABASES = 16  # Redis's default `databases`


def worker_redis_url(url: str, index: int) -> str:
    """The URL's database counted down by the xdist worker's index: gw0 the URL's own, gw1 the one below, ...

    So a run on N workers from base B uses B, B-1, ... B-N+1 (wrapping below 0
    to 15), and two runs side by side need bases at least N apart (CI: 15 and 7).
    """
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(base - index) % REDIS_DATABASES}"))
