"""The application factory: a short list of steps, each small and named.

`create_app(config=None)` reads settings from the environment; `config`
overrides them (tests use it). Nothing here opens a connection: engines and
broker pools connect lazily, after gunicorn has forked its workers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

import blasto.models  # noqa: F401  (registers the tables on db.metadata)
from blasto import admin, health, site, webhooks
from blasto.admin.cli import create_admin
from blasto.api.core import init_api
from blasto.core.celery_app import celery_init_app
from blasto.core.config import load_config
from blasto.core.error_tracking import init_error_tracking
from blasto.core.extensions import csrf, db, login_manager, migrate
from blasto.core.logs import configure_logging
from blasto.deploy_check import check
from blasto.health.cli import ready
from blasto.outbox.cli import outbox
from blasto.outbox.dispatch import listen_for_outbox_rows
from blasto.security.rate_limits import init_rate_limits
from blasto.shop.sales_counts import recount_sales_command
from blasto.shop.seed import seed_command
from blasto.web.errors import end_session, register_error_handlers
from blasto.web.https import register_https
from blasto.web.middleware import build_middleware
from blasto.web.request_id import RequestGlobals
from blasto.web.seen_logins import init_seen_logins
from blasto.web.static_assets import init_static_assets
from blasto.web.strict_request import StrictRequest
from blasto.web.templating import register_template_filters

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    register_config(app, config)
    configure_logging(app.config["LOG_LEVEL"])
    init_error_tracking(app)  # Sentry, with SENTRY_DSN: before Celery is bound, in every process
    register_extensions(app)
    register_request_classes(app)
    register_template_filters(app)  # pages and e-mails (rendered by the worker) share them
    init_static_assets(app)  # hashed names for asset_url; served by WhiteNoise (build_middleware)
    register_blueprints(app)
    register_security(app)
    register_error_handlers(app)
    register_cli(app)
    build_middleware(app)
    return app


def register_config(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    app.config.from_mapping(load_config(instance_path=app.instance_path))
    if overrides:
        app.config.from_mapping(overrides)
    # JSON keeps the order the code builds (id first); sorting every key of a
    # 20-purchase page was a measurable share of the API's hottest response.
    app.json.sort_keys = False  # type: ignore[attr-defined]


def register_extensions(app: Flask) -> None:
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    init_seen_logins(app)  # teardowns run last-registered first: this one after the session is removed
    db.init_app(app)
    app.teardown_appcontext(end_session)  # teardowns run last-registered first: before Flask-SQLAlchemy's
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    listen_for_outbox_rows()
    celery_init_app(app)


def register_request_classes(app: Flask) -> None:
    app.request_class = StrictRequest
    app.app_ctx_globals_class = RequestGlobals  # g.request_id


def register_blueprints(app: Flask) -> None:
    app.register_blueprint(site.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(webhooks.bp)
    csrf.exempt(webhooks.bp)  # Stripe signs its events; it holds no session and so no CSRF token
    init_api(app)


def register_security(app: Flask) -> None:
    """HTTPS in production, and rate limits (which wrap the views, so after the blueprints); the headers: build_middleware."""
    register_https(app)
    init_rate_limits(app)


def register_cli(app: Flask) -> None:
    app.cli.add_command(ready)
    app.cli.add_command(check)
    app.cli.add_command(create_admin)
    app.cli.add_command(outbox)
    app.cli.add_command(seed_command)
    app.cli.add_command(recount_sales_command)
