"""The application factory: a short list of steps, each small and named.

`create_app(config=None)` reads settings from the environment; `config`
overrides them (tests use it). Nothing here opens a connection: engines and
broker pools connect lazily, after gunicorn has forked its workers.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from blasto.config import load_config
from blasto.logs import configure_logging

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    register_config(app, config)
    register_proxy(app)
    register_last_resort(app)
    register_logging(app)
    register_error_tracking(app)
    register_extensions(app)
    register_blueprints(app)
    register_security(app)
    register_request_hooks(app)
    register_error_handlers(app)
    register_cli(app)
    return app


def register_config(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    app.config.from_mapping(load_config(instance_path=app.instance_path))
    if overrides:
        app.config.from_mapping(overrides)
    # JSON keeps the order the code builds (id first); sorting every key of a
    # 20-purchase page was a measurable share of the API's hottest response.
    app.json.sort_keys = False  # type: ignore[attr-defined]


def register_proxy(app: Flask) -> None:
    """Trust one proxy hop, Heroku's router, for the client address, scheme and port.

    The router appends the address it saw to X-Forwarded-For, so the last one
    is the client; anything earlier is the client's own claim. It does not set
    X-Forwarded-Host or X-Forwarded-Prefix, so those are never trusted.
    """
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_port=1)  # type: ignore[method-assign]


def register_last_resort(app: Flask) -> None:
    """The app's own 503/500 for an exception that escapes Flask; the request-id and header middlewares wrap it."""
    from blasto.last_resort import register_last_resort as register

    register(app)


def register_logging(app: Flask) -> None:
    configure_logging(app.config["LOG_LEVEL"])


def register_error_tracking(app: Flask) -> None:
    """Sentry, with SENTRY_DSN: before Celery is bound and before the first request, in every process."""
    from blasto.error_tracking import init_error_tracking

    init_error_tracking(app)


def register_extensions(app: Flask) -> None:
    import blasto.models  # noqa: F401  (registers the tables on db.metadata)
    from blasto.celery_app import celery_init_app
    from blasto.extensions import csrf, db, end_session, login_manager, migrate
    from blasto.outbox.dispatch import listen_for_outbox_rows

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    app.teardown_appcontext(end_session)  # teardowns run last-registered first: before Flask-SQLAlchemy's
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    listen_for_outbox_rows()
    celery_init_app(app)


def register_blueprints(app: Flask) -> None:
    from blasto import admin, health, site
    from blasto.api.core import init_api

    app.register_blueprint(site.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(health.bp)
    init_api(app)


def register_security(app: Flask) -> None:
    """HTTPS and HSTS in production, security headers, and rate limits (which wrap the views, so after the blueprints)."""
    from blasto.security.headers import register_security_headers
    from blasto.security.https import register_https
    from blasto.security.rate_limits import init_rate_limits

    register_https(app)
    register_security_headers(app)
    init_rate_limits(app)


def register_request_hooks(app: Flask) -> None:
    from blasto.request_id import register_request_id
    from blasto.strict_request import StrictRequest

    register_request_id(app)
    app.request_class = StrictRequest


def register_error_handlers(app: Flask) -> None:
    from blasto.errors import register_error_handlers as register

    register(app)


def register_cli(app: Flask) -> None:
    from blasto.admin.cli import create_admin
    from blasto.cli import ready
    from blasto.deploy_check import check
    from blasto.outbox.cli import outbox
    from blasto.shop.seed import seed_command

    app.cli.add_command(ready)
    app.cli.add_command(check)
    app.cli.add_command(create_admin)
    app.cli.add_command(outbox)
    app.cli.add_command(seed_command)
