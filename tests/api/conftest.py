"""An API client (tests.support.api_client) on SQLite or Postgres, inside the app's context."""

from __future__ import annotations

import pytest

from tests.support.api_client import ApiClient


@pytest.fixture
def api(db_app):
    with db_app.app_context():
        yield ApiClient(db_app)


@pytest.fixture
def pg_api(pg_app):
    with pg_app.app_context():
        yield ApiClient(pg_app)
