"""Migrated databases for the report tests, and the embedded broker's queue.

Migrating a database takes longer than most report tests, so the committed
migrations run once per session into a template (a SQLite file, a Postgres
template database) and each test gets a fresh copy. Test modules import the
fixtures they use from here.
"""

from __future__ import annotations

import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from blasto import create_app
from blasto.core.config import celery_config, database_uri, engine_options
from blasto.core.extensions import db
from blasto.reports.asking import BUILD_TASK
from tests.support.embedded_broker import queued_tasks
from tests.support.migrations import migrated
from tests.support.services import drop_database, fresh_database_url
from tests.support.tiers import POSTGRES_PARAM

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated by the committed migrations, to copy for each test."""
    folder = tmp_path_factory.mktemp("migrated-sqlite")
    app = migrated(
        create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'blasto.sqlite3'}",
                "CELERY": celery_config(None, folder, {}),
            }
        )
    )
    with app.app_context():
        db.engine.dispose()
    return folder / "blasto.sqlite3"


@pytest.fixture(scope="session")
def postgres_template(postgres_admin, tmp_path_factory) -> str:
    """The name of a Postgres database migrated once, to clone for each test."""
    url, name = fresh_database_url(postgres_admin, prefix="blasto_template")
    uri = database_uri(url, None)
    folder = tmp_path_factory.mktemp("migrated-postgres")
    app = migrated(
        create_app(
            {
                "SQLALCHEMY_DATABASE_URI": uri,
                "SQLALCHEMY_ENGINE_OPTIONS": engine_options(uri, 2),
                "CELERY": celery_config(None, folder, {}),
            }
        )
    )
    with app.app_context():
        db.engine.dispose()  # CREATE DATABASE ... TEMPLATE needs it unused
    yield name
    drop_database(postgres_admin, name)


def sqlite_copy(template: Path, tmp_path: Path) -> None:
    """Put the migrated file where app_factory's apps look for their database."""
    shutil.copyfile(template, tmp_path / "blasto.sqlite3")


@contextmanager
def postgres_clone(admin_url: str, template: str):
    """A fresh migrated Postgres database (its postgres:// URL), dropped afterwards."""
    import psycopg

    name = f"blasto_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    parts = urlsplit(admin_url)
    try:
        yield urlunsplit(("postgres", parts.netloc, f"/{name}", "", ""))
    finally:
        drop_database(admin_url, name)


def postgres_config(url: str, pool_size: int = 5) -> dict:
    uri = database_uri(url, None)
    return {"SQLALCHEMY_DATABASE_URI": uri, "SQLALCHEMY_ENGINE_OPTIONS": engine_options(uri, pool_size)}


@pytest.fixture
def migrated_postgres(postgres_admin, postgres_template):
    with postgres_clone(postgres_admin, postgres_template) as url:
        yield url


@pytest.fixture(params=["sqlite", POSTGRES_PARAM])
def database(request, tmp_path) -> str | None:
    """None for SQLite (a migrated file in tmp_path), else the URL of a fresh migrated Postgres database."""
    if request.param == "postgres":
        return request.getfixturevalue("migrated_postgres")
    sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
    return None


@pytest.fixture
def make_app(app_factory):
    """make_app(postgres_url=None, **config): an app on the migrated database, its context pushed for the test."""
    contexts = []

    def make(postgres_url: str | None = None, **overrides):
        app = app_factory(**{**(postgres_config(postgres_url) if postgres_url else {}), **overrides})
        context = app.app_context()
        context.push()
        contexts.append(context)
        return app

    yield make
    for context in reversed(contexts):
        db.session.remove()
        db.engine.dispose()
        context.pop()


@pytest.fixture
def reports_app(database, make_app):
    return make_app(database)


def queued_builds(tmp_path) -> list[tuple[int, str | None]]:
    """(report id, eta) of each build task in the test app's embedded broker, in order."""
    return queued_tasks(tmp_path, BUILD_TASK, "eta")
