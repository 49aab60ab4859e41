"""The restock-wish revision on both databases: up over rows written before it, down, and up again."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from blasto.core.extensions import db
from tests.support.migrations import app_at_revision, head_revision, revision_before
from tests.support.migrations import committed_sql as sql
from tests.support.tiers import POSTGRES_PARAM

REVISION = "0024_restock_wishes"
BEFORE = revision_before(REVISION)


@pytest.fixture(params=["sqlite", POSTGRES_PARAM])
def old_shop(request, app_factory):
    """An app whose database is at the revision before restock wishes, its context pushed."""
    with app_at_revision(request, app_factory, BEFORE) as app:
        yield app


def owe(kind: str, key: str) -> None:
    sql(
        "INSERT INTO outbox_messages (key, kind, state, recipient, link, created_at, next_attempt_at, attempts) "
        "VALUES (:key, :kind, 'pending', 'ann@example.com', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0)",
        key=key,
        kind=kind,
    )


def test_the_revision_keeps_owed_e_mails_accepts_the_new_kind_and_goes_down_and_up_again(old_shop):
    owe("welcome", "welcome:1")

    upgrade(revision=REVISION)

    assert "restock_wishes" in inspect(db.engine).get_table_names()
    owe("back_in_stock", "back_in_stock:1")
    assert sql("SELECT kind, product_id FROM outbox_messages ORDER BY id").all() == [
        ("welcome", None),
        ("back_in_stock", None),
    ]

    downgrade(revision=BEFORE)

    assert "restock_wishes" not in inspect(db.engine).get_table_names()
    assert sql("SELECT kind FROM outbox_messages").scalars().all() == ["welcome"]
    with pytest.raises(IntegrityError):
        owe("back_in_stock", "back_in_stock:2")
    db.session.rollback()

    upgrade()
    assert sql("SELECT version_num FROM alembic_version").scalar_one() == head_revision()
