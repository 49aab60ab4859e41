"""A rule for every migration, checked on the SQL the release would run on Postgres: no index build that blocks writes.

A plain CREATE INDEX on a table holds writes to it (checkouts) for the whole
build; CREATE INDEX CONCURRENTLY does not. An index on a table its own
revision creates is exempt: nothing writes to a table that did not exist.
`flask --app blasto db upgrade --sql` prints the release's SQL revision by
revision without a database, so the rule reads what Postgres would be sent.
"""

from __future__ import annotations

import re

import pytest

from tests.support.migrations import (
    CONCURRENT_INDEX,
    CONCURRENT_INDEX_REVISION,
    NEW_COLUMN,
    NEW_COLUMN_REVISION,
    PLAIN_INDEX_REVISION,
    migrations_with,
)
from tests.support.processes import process_env, run_command

pytestmark = pytest.mark.processes

# Applied on every shop before the rule; Alembic never runs them again there (see the README).
APPLIED_BEFORE_THE_RULE = {
    ("0003_history_index", "ix_purchases_user_id_created_at_id", "purchases"),
    ("0005_product_hidden", "ix_purchases_created_at_id", "purchases"),
    ("0005_product_hidden", "ix_purchase_items_product_id", "purchase_items"),
}
SECTION = re.compile(r"^-- Running upgrade \S* -> (\S+)$", re.MULTILINE)
CREATE_TABLE = re.compile(r'^CREATE TABLE (?:IF NOT EXISTS )?"?(\w+)"?', re.MULTILINE)
CREATE_INDEX = re.compile(
    r'^CREATE (?:UNIQUE )?INDEX (CONCURRENTLY )?(?:IF NOT EXISTS )?"?(\w+)"? ON (?:ONLY )?"?(\w+)"?',
    re.MULTILINE,
)


def release_sql(directory=None) -> str:
    """What the release would send to Postgres, offline (no connection is made)."""
    command = "flask --app blasto db upgrade --sql" + (f" --directory {directory}" if directory else "")
    env = process_env(BLASTO_ENV="test", DATABASE_URL="postgres://blasto@127.0.0.1:5432/offline", FLASK_SKIP_DOTENV="1")
    result = run_command(command, env)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def blocking_index_builds(sql: str) -> set[tuple[str, str, str]]:
    """(revision, index, table) of each plain index build on a table its own revision did not create."""
    found = set()
    parts = SECTION.split(sql)
    for revision, body in zip(parts[1::2], parts[2::2]):
        own_tables = set(CREATE_TABLE.findall(body))
        for concurrently, index, table in CREATE_INDEX.findall(body):
            if table not in own_tables and not concurrently:
                found.add((revision, index, table))
    return found


def test_index_builds_on_existing_tables_are_concurrent_from_now_on():
    sql = release_sql()
    assert "SET lock_timeout = '5s';" in sql.splitlines(), "the release waits at most 5 s for a lock"
    assert blocking_index_builds(sql) == APPLIED_BEFORE_THE_RULE


def test_the_rule_refuses_a_plain_index_build_and_accepts_the_concurrent_one(tmp_path):
    plain = migrations_with(tmp_path / "plain", {"9001_plain_index.py": PLAIN_INDEX_REVISION})
    assert blocking_index_builds(release_sql(plain)) - APPLIED_BEFORE_THE_RULE == {
        ("9001_plain_index", "ix_purchases_total_cents", "purchases"),
    }
    concurrent = migrations_with(
        tmp_path / "concurrent",
        {
            f"{CONCURRENT_INDEX}.py": CONCURRENT_INDEX_REVISION,
            f"{NEW_COLUMN}.py": NEW_COLUMN_REVISION,
        },
    )
    sql = release_sql(concurrent)
    assert "CREATE INDEX CONCURRENTLY ix_purchases_total_cents ON purchases (total_cents)" in sql
    assert blocking_index_builds(sql) == APPLIED_BEFORE_THE_RULE
