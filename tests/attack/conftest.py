"""Shared fixtures for the attack tests: a shop on a real, migrated Postgres database.

Each database is a clone of the session's migrated template (tests.support.
report_databases), so tests start from the committed migrations without paying
for them again. CSRF stays on, as in production.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from blasto import create_app
from blasto.core.config import celery_config
from blasto.core.extensions import db
from blasto.core.payment_settings import MANUAL, PaymentSettings
from blasto.shop.seed import seed_catalog
from tests.attack.world import ADMIN, OTHER, SHOPPER, bearer_for, populate
from tests.support.card_payments import stripe_settings
from tests.support.processes import free_port
from tests.support.report_databases import postgres_clone, postgres_config


def shop_app(postgres_url: str, folder):
    """A Postgres app with the sample catalogue; its broker is a SQLite file in `folder`.

    Stripe's keys are set, pointing at a port nobody listens on, so the world's card order renders
    its card form; new orders stay manual, so no fuzzed checkout or API call waits on Stripe.
    """
    # Rate limits off: these tests log in and post forms hundreds of times from one address, on purpose.
    app = create_app(
        {
            **postgres_config(postgres_url),
            "CELERY": celery_config(None, folder, {}),
            "READY_TIMEOUT_SECONDS": 0.05,
            "RATELIMIT_ENABLED": False,
            "PAYMENTS": PaymentSettings(MANUAL, stripe_settings(f"http://127.0.0.1:{free_port()}").stripe),
        }
    )
    assert app.config.get("WTF_CSRF_ENABLED", True), "attack tests run with CSRF on, as production does"
    with app.app_context():
        seed_catalog()
    return app


def dispose(app) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def module_pg_shop(postgres_admin, postgres_template, tmp_path_factory):
    """One shop for a whole module (the schemathesis run spans one test per operation)."""
    with postgres_clone(postgres_admin, postgres_template) as url:
        app = shop_app(url, tmp_path_factory.mktemp("broker"))
        yield app
        dispose(app)


@pytest.fixture(scope="module")
def world(module_pg_shop):
    """The module's shop populated with one of everything (see tests.attack.world)."""
    return populate(module_pg_shop)


@pytest.fixture(scope="module")
def tokens(module_pg_shop, world):
    """A bearer header for each of the world's accounts, by e-mail."""
    return {email: bearer_for(module_pg_shop, email) for email in (SHOPPER, OTHER, ADMIN)}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Hostile-input sweeps and fuzzing are slow by design: out of `dev.py test --fast`, in the full suite."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.slow)
