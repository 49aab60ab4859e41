"""The committed migrations applied to an app, the newest revision (so tests need no edit per migration), and copies with test revisions."""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from flask_migrate import upgrade
from sqlalchemy import text

from blasto.core.config import database_uri, engine_options
from blasto.core.extensions import db
from tests.support.processes import ROOT


def migrated(app):
    """Apply the committed migrations (not create_all), as the release phase does."""
    with app.app_context():
        upgrade()
    return app


@contextmanager
def app_at_revision(request, app_factory, revision: str) -> Iterator:
    """An app whose database is migrated up to `revision`, its context pushed: for a fixture with
    params ["sqlite", "postgres"] (the embedded SQLite file, or a fresh Postgres database)."""
    if request.param == "postgres":
        uri = database_uri(request.getfixturevalue("postgres_database"), None)
        app = app_factory(SQLALCHEMY_DATABASE_URI=uri, SQLALCHEMY_ENGINE_OPTIONS=engine_options(uri, 2))
    else:
        app = app_factory()
    with app.app_context():
        upgrade(revision=revision)
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def committed_sql(statement: str, **params):
    """Run one statement in the pushed app's session and commit: rows written as older code wrote them."""
    result = db.session.execute(text(statement), params)
    db.session.commit()
    return result


def head_revision() -> str:
    return _scripts().get_current_head()


def revision_before(revision: str) -> str:
    """The revision `revision` follows, read from the chain (so re-chaining a branch at merge needs no test edit)."""
    down = _scripts().get_revision(revision).down_revision
    assert isinstance(down, str), f"{revision} follows {down!r}, not one revision"
    return down


def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return ScriptDirectory.from_config(config)


def migrations_with(directory: Path, revisions: dict[str, str]) -> Path:
    """A copy of migrations/ in `directory` with test-only revisions added: {file name: source}.

    In each source, "{head}" stands for the committed head revision, so the
    test revisions stay on top of the real history as it grows.
    """
    copy = Path(directory) / "migrations"
    shutil.copytree(ROOT / "migrations", copy, ignore=shutil.ignore_patterns("__pycache__"))
    head = head_revision()
    for name, source in revisions.items():
        (copy / "versions" / name).write_text(source.replace("{head}", head))
    return copy


# Test-only revisions on top of the real history. The first follows the
# README's "Migrations on a live shop"; the plain one is what the rule refuses.
CONCURRENT_INDEX = "9001_live_index"
CONCURRENT_INDEX_REVISION = '''"""Test only: an index on purchases, built concurrently.

Revision ID: 9001_live_index
Revises: {head}
"""
from alembic import op

revision = "9001_live_index"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    with op.get_context().autocommit_block():
        # A build that gave up (lock_timeout) leaves an invalid index of this name.
        op.drop_index("ix_purchases_total_cents", table_name="purchases", if_exists=True, postgresql_concurrently=True)
        op.create_index("ix_purchases_total_cents", "purchases", ["total_cents"], postgresql_concurrently=True)


def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index("ix_purchases_total_cents", table_name="purchases", postgresql_concurrently=True)
'''

NEW_COLUMN = "9002_live_column"
NEW_COLUMN_REVISION = '''"""Test only: a nullable column on purchases (a brief ACCESS EXCLUSIVE lock).

Revision ID: 9002_live_column
Revises: 9001_live_index
"""
from alembic import op
import sqlalchemy as sa

revision = "9002_live_column"
down_revision = "9001_live_index"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("purchases", sa.Column("gift_note", sa.Text(), nullable=True))


def downgrade():
    op.drop_column("purchases", "gift_note")
'''

PLAIN_INDEX_REVISION = '''"""Test only: an index on purchases built in the release's transaction, blocking writes.

Revision ID: 9001_plain_index
Revises: {head}
"""
from alembic import op

revision = "9001_plain_index"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_purchases_total_cents", "purchases", ["total_cents"])


def downgrade():
    op.drop_index("ix_purchases_total_cents", table_name="purchases")
'''
