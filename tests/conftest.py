"""Shared fixtures: an app per test on throwaway SQLite, and the real services.

Tests never read the developer's DATABASE_URL/REDIS_URL/.env: the process
environment is reset to test mode before `blasto` is imported. Postgres and
Redis come from BLASTO_TEST_POSTGRES_URL / BLASTO_TEST_REDIS_URL (defaults: the
local servers). When one is unreachable its tests skip with the reason, unless
BLASTO_REQUIRE_SERVICES=1 (CI), which turns every such skip into a failure.
"""

from __future__ import annotations

import gc
import os
import sys
from urllib.parse import urlsplit

for _name in (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "LOG_LEVEL",
    "READY_TIMEOUT_SECONDS",
    "DYNO",
    "STATSD_HOST",
    "SENTRY_DSN",
):
    os.environ.pop(_name, None)
os.environ["BLASTO_ENV"] = "test"
# Test mode has no rate limits; this keeps them off in the production-mode
# stacks the e2e/browser tests start too (their setup traffic all comes from
# 127.0.0.1). tests/*/test_rate_limits.py turn them on where they are the subject.
os.environ["RATELIMIT_ENABLED"] = "false"
# Standard shipping is free in the suite (here and in the stacks it starts), so the totals the
# tests assert are the books' sum; tests/*/test_shipping.py price it where shipping is the subject.
os.environ["FREE_SHIPPING_OVER_CENTS"] = "0"
for _name in ("SHIPPING_OPTIONS", "SHIP_TO_COUNTRIES"):
    os.environ.pop(_name, None)

import pytest  # noqa: E402
from jinja2 import FileSystemBytecodeCache  # noqa: E402

from blasto import create_app  # noqa: E402
from blasto.core.config import celery_config, database_uri, engine_options  # noqa: E402
from tests.support.parallel import grouped_scheduling, heaviest_first, ungrouped_shared_fixtures  # noqa: E402
from tests.support.payment_stand_in import PaymentStandIn  # noqa: E402
from tests.support.processes import LIBRARY_HELPERS  # noqa: E402
from tests.support.redis_proxy import RedisProxy  # noqa: E402

# Databases migrated once per session and copied per test (the report tests use them).
from tests.support.report_databases import (  # noqa: E402,F401
    database,
    make_app,
    migrated_postgres,
    postgres_template,
    reports_app,
    sqlite_copy,
    sqlite_template,
)
from tests.support.services import drop_database, fresh_database_url, postgres_admin_url, redis_test_url  # noqa: E402
from tests.support.smtp_sink import SmtpSink  # noqa: E402
from tests.support.tcp_proxy import TcpProxy  # noqa: E402
from tests.support.tiers import mark_sweep_tail  # noqa: E402


@pytest.fixture(scope="session")
def template_bytecode(tmp_path_factory) -> FileSystemBytecodeCache:
    """Jinja's compiled templates, kept for the session (this worker's): a new app need not compile them again.

    Each test builds its own app, and each app's Jinja environment compiled
    every template it rendered: about 40 ms for three pages, in most tests.
    Jinja keys the cache on each template's source, so an edited one compiles anew.
    """
    return FileSystemBytecodeCache(str(tmp_path_factory.mktemp("jinja-bytecode")))


@pytest.fixture
def app_factory(tmp_path, template_bytecode):
    """Build apps whose database and broker live in this test's tmp dir."""

    def build(**overrides):
        config = {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'blasto.sqlite3'}",
            "CELERY": celery_config(None, tmp_path, {}),
            "READY_TIMEOUT_SECONDS": 0.5,
        }
        config.update(overrides)
        app = create_app(config)
        app.jinja_env.bytecode_cache = template_bytecode
        return app

    return build


@pytest.fixture
def app(app_factory):
    return app_factory()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db_app(migrated_app_factory):
    """An app whose SQLite database has the full schema: a copy of the one migrated once per session."""
    return migrated_app_factory()


@pytest.fixture
def migrated_app_factory(app_factory, sqlite_template, tmp_path):
    """app_factory whose default SQLite database has the full schema: a copy of the one migrated once per session."""
    sqlite_copy(sqlite_template, tmp_path)
    return app_factory


@pytest.fixture
def pg_app(app_factory, migrated_postgres):
    """An app on a fresh Postgres database with the full schema: a clone of the one migrated once per session."""
    uri = database_uri(migrated_postgres, None)
    return app_factory(SQLALCHEMY_DATABASE_URI=uri, SQLALCHEMY_ENGINE_OPTIONS=engine_options(uri, 5))


@pytest.fixture(scope="session")
def postgres_admin():
    return postgres_admin_url()


@pytest.fixture
def postgres_database(postgres_admin):
    """An empty database of its own, as Heroku's `postgres://` URL."""
    url, name = fresh_database_url(postgres_admin)
    yield url
    drop_database(postgres_admin, name)


@pytest.fixture
def sink():
    """A real SMTP server (aiosmtpd) for this test; tests/functional's conftest also points the shop at it."""
    with SmtpSink() as running:
        yield running


@pytest.fixture
def redis_url():
    return redis_test_url()


@pytest.fixture
def proxy(postgres_admin):
    """A TCP proxy in front of the Postgres server: point an app's URL at it, and stop it to cut the app off."""
    parts = urlsplit(postgres_admin)
    with TcpProxy(parts.hostname, parts.port or 5432) as running:
        yield running


@pytest.fixture
def redis_proxy(redis_url):
    """The tests' Redis database behind a TCP proxy: `down()` cuts the app off, `up()` brings it back empty."""
    with RedisProxy(redis_url) as running:
        yield running


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Under `-n N`: tests sharing a module or package fixture go to one worker (tests.support.parallel)."""
    if config.getoption("dist") == "load":
        return grouped_scheduling(config, log)
    return None


_sweep_firsts: set[tuple[str, str]] = set()


def pytest_itemcollected(item):
    """A sweep's cases after its first are `slow` (tests.support.tiers), before `-m` picks the tier."""
    mark_sweep_tail(item, _sweep_firsts)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Refuse what would make a parallel run wrong or slow; on a worker, heaviest tests first."""
    seen: set[str] = set()
    twice = sorted({item.nodeid for item in items if item.nodeid in seen or seen.add(item.nodeid)})
    if twice:  # xdist tells tests apart by node id: all but one of each would silently not run
        raise pytest.UsageError(f"tests share a node id: {twice[:5]}")
    ungrouped = ungrouped_shared_fixtures(items)
    if ungrouped:
        raise pytest.UsageError(f"add these to tests.support.parallel.SHARED: {ungrouped[:5]}")
    if os.environ.get("PYTEST_XDIST_WORKER"):
        heaviest_first(items)


# Every test builds an app (werkzeug's compiled rules, the OpenAPI document, Jinja): thousands of
# objects in cycles each time, which the collector's default thresholds chased in full about every
# second test; it spent about a fifth of an in-process run.
GC_THRESHOLDS = (20_000, 20, 10)


def pytest_collection_finish(session):
    """Park what the imports and collection built in the permanent generation, and collect less often.

    `gc.freeze()` keeps the collector from walking the session's long-lived objects on every full
    collection; the tests' garbage is still collected, in fewer, larger passes.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


# -- tiers: a test that starts a process must say so (`dev.py test --fast` leaves it out) ----------

SPAWN_EVENTS = frozenset({"subprocess.Popen", "os.posix_spawn", "os.fork", "os.exec"})
_spawned: list[str] = []


def _note_spawns(event: str, args) -> None:
    if event in SPAWN_EVENTS and not any(name in str(args[0]) for name in LIBRARY_HELPERS):
        _spawned.append(f"{event} {str(args[0])[:80]}")


sys.addaudithook(_note_spawns)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Fail a test that started a process (or whose fixtures did) but carries neither `processes` nor `browser`."""
    _spawned.clear()
    reports = yield
    return reports


@pytest.fixture(autouse=True)
def _processes_are_marked(request):
    yield
    if _spawned and not any(request.node.get_closest_marker(name) for name in ("processes", "browser")):
        pytest.fail(
            f"this test started a process ({_spawned[0]}) but is not marked `processes`: mark it, "
            "so that `python3 dev.py test --fast` leaves it out",
            pytrace=False,
        )


@pytest.fixture
def stand_in(tmp_path):
    """A localstripe of this test's own (tests.support.payment_stand_in): Stripe for the card payment tests."""
    with PaymentStandIn(tmp_path / "localstripe.log") as running:
        yield running
