"""Settings read from the environment (12-factor), validated once at start.

Everything a process needs comes from environment variables so that the same
code runs on Heroku, under honcho and on a bare laptop. Bad values raise
:class:`ConfigError` (blasto.core.env) naming the variable, which `blasto.__init__`
turns into a single line on stderr instead of a traceback.
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from blasto.core import broker as embedded_broker
from blasto.core.card_sweep_settings import CARD_SWEEP_ENTRY, card_sweep_config, card_sweep_every_seconds
from blasto.core.env import ConfigError, env_bool, env_float, env_int
from blasto.core.mail_settings import mail_settings
from blasto.core.payment_settings import payment_config, payment_settings
from blasto.core.shipping_settings import shipping_settings

ENVIRONMENTS = ("production", "development", "test")
MIN_SECRET_KEY_LENGTH = 32
# Values people paste from tutorials; never acceptable in production.
PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "dev", "development", "test", "password"}
DEV_SECRET_KEY = "blasto-development-key-not-for-production-use"
TEST_PASSWORD_HASH = "pbkdf2:sha256:1"
# Above the longest task (task_time_limit) so the Redis transport never
# redelivers a message whose task is still running.
VISIBILITY_TIMEOUT_SECONDS = 3600
TASK_TIME_LIMIT_SECONDS = 300
# Connection caps per process (see README, "Connections"); `flask --app blasto check` adds them up.
DATABASE_POOL_SIZE = 5
WORKER_DATABASE_POOL_SIZE = 2
CELERY_BROKER_POOL_LIMIT = 1
RATELIMIT_REDIS_MAX_CONNECTIONS = 1
WORKER_DYNO_TYPE = "worker"  # the Procfile's Celery worker: its dynos get WORKER_DATABASE_POOL_SIZE
# The clock: beat renews its RedBeat lock at least every BEAT_MAX_LOOP_SECONDS; a
# killed clock's lock expires after BEAT_LOCK_TIMEOUT_SECONDS (RedBeat's own 5 to 1
# ratio), so a waiting clock takes over within their sum.
BEAT_MAX_LOOP_SECONDS = 5.0
BEAT_LOCK_TIMEOUT_SECONDS = 25
HEARTBEAT_TASK = "blasto.health.heartbeat"
HEARTBEAT_ENTRY = "worker-heartbeat"  # its name in the beat schedule; /readyz reports it as "worker"


def load_config(
    environ: Mapping[str, str] | None = None, instance_path: str | os.PathLike = "instance"
) -> dict[str, Any]:
    """Return the Flask config (with a CELERY section) for this environment."""
    env = os.environ if environ is None else environ
    instance = Path(instance_path)
    blasto_env = _blasto_env(env)
    production = blasto_env == "production"
    if production and env.get("DYNO"):
        require_heroku_addons(env)

    database_url = database_uri(env.get("DATABASE_URL"), instance)
    pool_size = database_pool_size(env)
    return {
        "BLASTO_ENV": blasto_env,
        "SECRET_KEY": secret_key(env.get("SECRET_KEY"), production),
        "TESTING": blasto_env == "test",
        "LOG_LEVEL": _log_level(env),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(database_url, pool_size),
        "SESSION_COOKIE_SECURE": production,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Flask-Login's "remember me" cookie is not Secure by default.
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # A form's CSRF token lasts as long as its session, not an hour: a cart
        # left open over lunch must still check out.
        "WTF_CSRF_TIME_LIMIT": None,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "PASSWORD_HASH_METHOD": password_hash_method(blasto_env),
        "READY_TIMEOUT_SECONDS": env_float(env, "READY_TIMEOUT_SECONDS", 3.0, minimum=0.1, maximum=20.0),
        "CELERY": celery_config(env.get("REDIS_URL"), instance, env),
        "MAIL": mail_settings(env, production, development=blasto_env == "development"),
        # Stripe with its three keys, manual payment without (blasto.core.payment_settings).
        "PAYMENTS": payment_settings(env),
        # What a shopper may pick at checkout and where to (blasto.core.shipping_settings).
        "SHIPPING": shipping_settings(env),
        "PUBLIC_URL": public_url(env.get("PUBLIC_URL")),
        "STATSD": statsd_config(env),
        # Errors and failed tasks to Sentry (blasto.core.error_tracking); None: the SDK is never loaded.
        "ERROR_TRACKING": error_tracking_config(env, blasto_env),
        # A cover still unsized this long after the worker was asked lost its task: the orders sweep asks again.
        "COVER_SWEEP_AFTER_SECONDS": env_float(env, "COVER_SWEEP_AFTER_SECONDS", 120.0, minimum=1.0, maximum=86400.0),
        **outbox_config(env),
        **report_config(env),
        **payment_config(env),
        **card_sweep_config(env),
        **rate_limit_config(env, blasto_env),
    }


def dyno_type(env: Mapping[str, str]) -> str:
    """The process type of this Heroku dyno ("web" for DYNO=web.1, "run" for a one-off); "" off Heroku."""
    return (env.get("DYNO") or "").strip().partition(".")[0]


def database_pool_size(env: Mapping[str, str]) -> int:
    """Postgres connections this process may hold: a web process's threads share DATABASE_POOL_SIZE;
    a Celery prefork child on a worker dyno runs one task at a time and needs far fewer.
    """
    web = env_int(env, "DATABASE_POOL_SIZE", DATABASE_POOL_SIZE, minimum=1, maximum=100)
    worker = env_int(env, "WORKER_DATABASE_POOL_SIZE", WORKER_DATABASE_POOL_SIZE, minimum=1, maximum=100)
    return worker if dyno_type(env) == WORKER_DYNO_TYPE else web


def password_hash_method(blasto_env: str) -> str:
    """werkzeug's scrypt, slow on purpose; a one-round hash under BLASTO_ENV=test, where only speed matters.

    Never in production or development: a test-mode hash guards nothing.
    """
    return TEST_PASSWORD_HASH if blasto_env == "test" else "scrypt"


def outbox_config(env: Mapping[str, str]) -> dict[str, Any]:
    """How hard the worker tries to deliver an owed e-mail, and how the sweep finds stragglers."""
    return {
        "OUTBOX_MAX_ATTEMPTS": env_int(env, "OUTBOX_MAX_ATTEMPTS", 8, minimum=1, maximum=50),
        "OUTBOX_RETRY_BASE_SECONDS": env_float(env, "OUTBOX_RETRY_BASE_SECONDS", 2.0, minimum=0.01, maximum=3600.0),
        "OUTBOX_RETRY_MAX_SECONDS": env_float(
            env, "OUTBOX_RETRY_MAX_SECONDS", 600.0, minimum=0.01, maximum=VISIBILITY_TIMEOUT_SECONDS / 2
        ),
        # A pending row this long past due has lost its queue message (broker
        # down, worker killed): the sweep sends it again.
        "OUTBOX_SWEEP_AFTER_SECONDS": env_float(env, "OUTBOX_SWEEP_AFTER_SECONDS", 30.0, minimum=0.1, maximum=3600.0),
    }


def report_config(env: Mapping[str, str]) -> dict[str, Any]:
    """How long reports are kept, and when a build counts as abandoned."""
    return {
        "REPORT_TTL_SECONDS": env_float(env, "REPORT_TTL_SECONDS", 24 * 3600.0, minimum=60.0, maximum=90 * 24 * 3600.0),
        # A running build writes a heartbeat with every progress step (well
        # under a second apart); this long without one, its worker died.
        "REPORT_STALL_SECONDS": env_float(env, "REPORT_STALL_SECONDS", 60.0, minimum=1.0, maximum=3600.0),
        "REPORT_MAX_ATTEMPTS": env_int(env, "REPORT_MAX_ATTEMPTS", 3, minimum=1, maximum=20),
    }


# Per client address (per account for failed log-ins); see blasto.security.rate_limits.
DEFAULT_RATE_LIMITS = {
    "RATELIMIT_LOGIN": "20 per minute; 200 per hour",
    "RATELIMIT_LOGIN_PER_ACCOUNT": "5 per minute; 20 per hour",
    "RATELIMIT_SIGNUP": "10 per minute; 50 per hour",
    "RATELIMIT_CHECKOUT": "30 per minute; 300 per hour",
    "RATELIMIT_PASSWORD_RESET": "5 per minute; 20 per hour",
    "RATELIMIT_PASSWORD_RESET_PER_ACCOUNT": "3 per hour",
    "RATELIMIT_ACCOUNT_PASSWORD": "5 per minute; 20 per hour",
}


def redis_tls_options(url: str) -> dict[str, Any]:
    """redis-py's TLS options for a URL: Heroku Key-Value Store (rediss://) has a self-signed certificate."""
    return {"ssl_cert_reqs": ssl.CERT_NONE} if url.startswith("rediss:") else {}


def rate_limit_config(env: Mapping[str, str], blasto_env: str) -> dict[str, Any]:
    """Flask-Limiter's settings: on except in tests, counted in Redis when there is one.

    Short Redis timeouts: a limiter that cannot reach Redis falls back to
    memory (blasto.security.rate_limits) instead of holding the request.
    """
    redis_url = (env.get("REDIS_URL") or "").strip()
    options: dict[str, Any] = {}
    if redis_url:
        options = {"socket_connect_timeout": 1, "socket_timeout": 1, **redis_tls_options(redis_url)}
    return {
        "RATELIMIT_ENABLED": env_bool("RATELIMIT_ENABLED", env.get("RATELIMIT_ENABLED"), default=blasto_env != "test"),
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_STORAGE_OPTIONS": options,
        "RATELIMIT_REDIS_MAX_CONNECTIONS": env_int(
            env, "RATELIMIT_REDIS_MAX_CONNECTIONS", RATELIMIT_REDIS_MAX_CONNECTIONS, minimum=1, maximum=100
        ),
        "RATELIMIT_LOGIN": rate_limits("RATELIMIT_LOGIN", env.get("RATELIMIT_LOGIN")),
        "RATELIMIT_LOGIN_PER_ACCOUNT": rate_limits(
            "RATELIMIT_LOGIN_PER_ACCOUNT", env.get("RATELIMIT_LOGIN_PER_ACCOUNT")
        ),
        "RATELIMIT_SIGNUP": rate_limits("RATELIMIT_SIGNUP", env.get("RATELIMIT_SIGNUP")),
        "RATELIMIT_CHECKOUT": rate_limits("RATELIMIT_CHECKOUT", env.get("RATELIMIT_CHECKOUT")),
        "RATELIMIT_PASSWORD_RESET": rate_limits("RATELIMIT_PASSWORD_RESET", env.get("RATELIMIT_PASSWORD_RESET")),
        "RATELIMIT_PASSWORD_RESET_PER_ACCOUNT": rate_limits(
            "RATELIMIT_PASSWORD_RESET_PER_ACCOUNT", env.get("RATELIMIT_PASSWORD_RESET_PER_ACCOUNT")
        ),
        "RATELIMIT_ACCOUNT_PASSWORD": rate_limits("RATELIMIT_ACCOUNT_PASSWORD", env.get("RATELIMIT_ACCOUNT_PASSWORD")),
    }


def rate_limits(name: str, value: str | None) -> str:
    """A limits string such as "10 per minute; 100 per hour", checked now rather than at the first request."""
    from limits import parse_many

    value = (value or "").strip() or DEFAULT_RATE_LIMITS[name]
    try:
        items = parse_many(value)
    except ValueError:
        items = []
    if not items or any(item.amount < 1 for item in items):
        raise ConfigError(name, f"must be limits like '10 per minute; 100 per hour' (each at least 1), not {value!r}")
    return value


def statsd_config(env: Mapping[str, str]) -> dict[str, Any] | None:
    """Where metrics go (StatsD over UDP): {host, port, prefix}, or None, and then nothing is sent."""
    host = env.get("STATSD_HOST", "").strip()
    if not host:
        return None
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host  # [::1] as in a URL
    if not re.fullmatch(r"[A-Za-z0-9._-]+|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*", bare):
        raise ConfigError(
            "STATSD_HOST", f"must be a host name or IP address, like statsd.example.com or 10.0.0.5, not {host!r}"
        )
    prefix = env.get("STATSD_PREFIX", "").strip() or "blasto"
    if not re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*", prefix):
        raise ConfigError(
            "STATSD_PREFIX",
            f"must be dot-separated words of letters, digits, _ or -, like blasto.production, not {prefix!r}",
        )
    return {"host": bare, "port": env_int(env, "STATSD_PORT", 8125, minimum=1, maximum=65535), "prefix": prefix}


def error_tracking_config(env: Mapping[str, str], blasto_env: str) -> dict[str, Any] | None:
    """Where errors go (SENTRY_DSN) and how they are labelled; None when SENTRY_DSN is unset."""
    dsn = sentry_dsn(env.get("SENTRY_DSN"))
    if dsn is None:
        return None
    dyno = env.get("DYNO", "").strip() or None  # web.1, worker.1, clock.1: which process sent it
    return {"dsn": dsn, "environment": blasto_env, "release": release_name(env), "server_name": dyno}


def sentry_dsn(value: str | None) -> str | None:
    """A DSN the Sentry SDK accepts (https://KEY@HOST/PROJECT_ID); its value is never echoed, it holds the key."""
    text = (value or "").strip()
    if not text:
        return None
    parts = urlsplit(text)
    project = parts.path.rpartition("/")[2]
    if not (
        parts.scheme in ("http", "https")
        and parts.hostname
        and parts.username
        and _port_or_none_is_valid(parts)
        and project.isascii()
        and project.isdigit()
    ):
        raise ConfigError(
            "SENTRY_DSN",
            "must be the project's DSN as Sentry shows it, like https://<key>@o0.ingest.sentry.io/<project number>",
        )
    return text


def _port_or_none_is_valid(parts) -> bool:
    try:
        parts.port  # noqa: B018 -- the attribute raises ValueError for a port that is not a number in range
    except ValueError:
        return False
    return True


def release_name(env: Mapping[str, str]) -> str | None:
    """The release errors are filed under, from Heroku's dyno metadata: the commit, else the Heroku release.

    HEROKU_BUILD_COMMIT (labs: runtime-dyno-build-metadata) or HEROKU_SLUG_COMMIT
    (labs: runtime-dyno-metadata) name the code; HEROKU_RELEASE_VERSION ("v42")
    at least names the deploy. None lets the SDK guess (SENTRY_RELEASE, or a
    checkout's git commit).
    """
    commit = env.get("HEROKU_BUILD_COMMIT", "").strip() or env.get("HEROKU_SLUG_COMMIT", "").strip()
    if commit:
        return commit
    version = env.get("HEROKU_RELEASE_VERSION", "").strip()
    app_name = env.get("HEROKU_APP_NAME", "").strip()
    if version:
        return f"{app_name}@{version}" if app_name else version
    return None


def public_url(value: str | None) -> str:
    """The shop's address for links in e-mails; empty means "the request's own"."""
    if not value or not value.strip():
        return ""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            "PUBLIC_URL", f"must be an http(s) address like https://blasto.herokuapp.com, not {value.strip()!r}"
        )
    return value.strip().rstrip("/")


def require_heroku_addons(env: Mapping[str, str]) -> None:
    """On a dyno the embedded defaults would be silently wrong: refuse them.

    A dyno's disk is ephemeral and private, so a SQLite database loses data
    at every restart and a SQLite broker is invisible to the worker dyno.
    """
    for variable, addon in (("DATABASE_URL", "heroku-postgresql"), ("REDIS_URL", "heroku-redis")):
        if not env.get(variable, "").strip():
            raise ConfigError(
                variable,
                f"is not set on this Heroku dyno; attach the {addon} add-on (the dyno's disk is ephemeral and not shared)",
            )


def _blasto_env(env: Mapping[str, str]) -> str:
    value = env.get("BLASTO_ENV", "").strip().lower() or "production"
    if value not in ENVIRONMENTS:
        raise ConfigError("BLASTO_ENV", f"must be one of {', '.join(ENVIRONMENTS)}, not {value!r}")
    return value


def secret_key(value: str | None, production: bool) -> str:
    """Refuse a missing or guessable key in production; supply one elsewhere."""
    hint = 'set it to a random string of at least 32 characters, e.g. `python -c "import secrets; print(secrets.token_hex(32))"`'
    if not value:
        if production:
            raise ConfigError("SECRET_KEY", f"is not set; production needs one: {hint}")
        return DEV_SECRET_KEY
    if production:
        if value.strip().lower() in PLACEHOLDER_SECRETS or value == DEV_SECRET_KEY:
            raise ConfigError("SECRET_KEY", f"is a well-known placeholder; {hint}")
        if len(value) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError("SECRET_KEY", f"is too short ({len(value)} characters); {hint}")
        if len(set(value)) < 8:
            raise ConfigError("SECRET_KEY", f"has too few distinct characters to be random; {hint}")
    return value


def database_uri(value: str | None, instance: Path) -> str:
    """Accept Heroku's postgres:// and pin the psycopg 3 driver; default to SQLite."""
    if not value or not value.strip():
        return f"sqlite:///{(instance / 'blasto.sqlite3').resolve()}"
    value = value.strip()
    try:
        url = make_url(value)
    except ArgumentError:
        raise ConfigError(
            "DATABASE_URL", "is not a valid database URL (expected postgres://user:pass@host:5432/name)"
        ) from None
    backend = url.get_backend_name()
    if backend in ("postgres", "postgresql"):
        if not url.host or not url.database:
            raise ConfigError("DATABASE_URL", "needs a host and a database name (postgres://user:pass@host:5432/name)")
        url = url.set(drivername="postgresql+psycopg")
    elif backend == "sqlite":
        if url.drivername != "sqlite":
            raise ConfigError("DATABASE_URL", f"uses an unsupported SQLite driver {url.drivername!r}")
    else:
        raise ConfigError(
            "DATABASE_URL", f"uses an unsupported scheme {url.drivername!r}; use postgres:// or sqlite:///"
        )
    return url.render_as_string(hide_password=False)


def engine_options(uri: str, pool_size: int) -> dict[str, Any]:
    """Pool caps that fit Heroku's small connection limits; SQLite waits on locks.

    `pool_pre_ping` replaces a pooled connection that died meanwhile (a database
    restart or failover) before a request uses it. `hide_parameters` keeps bound
    values (e-mails, names, password hashes) out of the text of database errors,
    which are logged.
    """
    if uri.startswith("sqlite"):
        return {"connect_args": {"timeout": 15}, "hide_parameters": True}
    return {
        "hide_parameters": True,
        "pool_size": pool_size,
        "max_overflow": 0,
        "pool_pre_ping": True,
        "pool_recycle": 300,
        "pool_timeout": 10,
        "connect_args": {"connect_timeout": 5, "application_name": "blasto"},
    }


def celery_config(redis_url: str | None, instance: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """Celery settings safe for Heroku (see HEROKU.md), on Redis or a server-less broker."""
    config: dict[str, Any] = {
        "broker_connection_retry_on_startup": True,
        "broker_pool_limit": env_int(env, "CELERY_BROKER_POOL_LIMIT", CELERY_BROKER_POOL_LIMIT, minimum=1, maximum=100),
        # Nothing uses `celery inspect`/`control`: no pidbox channel, one Redis connection fewer per worker.
        "worker_enable_remote_control": False,
        "task_serializer": "json",
        "accept_content": ["json"],
        # No result backend: nothing waits for a task's return value.
        "task_ignore_result": True,
        # Work must survive a worker killed mid-task: ack after the task, and
        # requeue when the child process dies.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_time_limit": TASK_TIME_LIMIT_SECONDS,
        "task_soft_time_limit": TASK_TIME_LIMIT_SECONDS - 30,
        # Heroku sends SIGKILL 30 s after SIGTERM: finish or requeue before then.
        # Celery waits the whole soft shutdown whenever a task was running (even
        # one that ends at once), then requeues what is left: 15 s covers a send
        # stuck for one SMTP timeout (10 s) and leaves the cold shutdown 15 s.
        "worker_soft_shutdown_timeout": 15.0,
        "worker_hijack_root_logger": False,
        # Let a running task finish when the broker goes away: every task here
        # is idempotent, and killing a send midway could land between the mail
        # server's "accepted" and the commit that records it.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "task_default_queue": "blasto",
        "imports": (
            "blasto.health.tasks",
            "blasto.outbox.tasks",
            "blasto.reports.tasks",
            "blasto.shop.tasks",
            "blasto.shop.refund_tasks",
            "blasto.shop.card_tasks",
            "blasto.shop.cover_tasks",
        ),
        # The clock process's only job. On the embedded defaults the schedule
        # lives in memory (a dyno's disk is not kept); with Redis, RedBeat
        # keeps it there under a lock (see below). Beat wakes at least this
        # often, and so renews the lock well within its timeout.
        "beat_scheduler": "blasto.core.celery_app:InMemoryScheduler",
        "beat_max_loop_interval": BEAT_MAX_LOOP_SECONDS,
        "beat_schedule": {
            "outbox-sweep": {
                "task": "blasto.outbox.sweep",
                "schedule": env_float(env, "OUTBOX_SWEEP_EVERY_SECONDS", 10.0, minimum=0.1, maximum=3600.0),
            },
            # Requeues abandoned report builds, fails hopeless ones, deletes expired ones.
            "reports-sweep": {
                "task": "blasto.reports.sweep",
                "schedule": env_float(env, "REPORT_SWEEP_EVERY_SECONDS", 15.0, minimum=0.1, maximum=3600.0),
            },
            # Cancels orders unpaid past PAYMENT_TIMEOUT and puts their stock back.
            "orders-sweep": {
                "task": "blasto.orders.sweep",
                "schedule": env_float(env, "ORDER_SWEEP_EVERY_SECONDS", 15.0, minimum=0.1, maximum=3600.0),
            },
            # Makes the card refunds still owed (Stripe was down, a task was lost); as often as the orders sweep.
            "refunds-sweep": {
                "task": "blasto.refunds.sweep",
                "schedule": env_float(env, "ORDER_SWEEP_EVERY_SECONDS", 15.0, minimum=0.1, maximum=3600.0),
            },
            # Applies Stripe events whose task was lost; asks Stripe about card orders whose webhook never came.
            CARD_SWEEP_ENTRY: {
                "task": "blasto.cards.sweep",
                "schedule": card_sweep_every_seconds(env),
            },
            # A worker stamps the time; /readyz reads its age to know one is taking tasks.
            HEARTBEAT_ENTRY: {
                "task": HEARTBEAT_TASK,
                "schedule": env_float(env, "WORKER_HEARTBEAT_SECONDS", 10.0, minimum=0.1, maximum=3600.0),
            },
        },
    }
    if not redis_url or not redis_url.strip():
        instance.mkdir(parents=True, exist_ok=True)
        broker = (instance / "celery-broker.sqlite3").resolve()
        config.update(
            broker_url=f"sqlite:///{broker}",
            broker_transport=embedded_broker.TRANSPORT,
            # kombu passes these to create_engine: wait on SQLite's lock.
            broker_transport_options={"connect_args": {"timeout": 15}},
        )
        return config
    url = redis_url.strip()
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("redis", "rediss") or not parts.hostname or port == -1:
        raise ConfigError("REDIS_URL", "is not a valid Redis URL (expected redis://host:6379/0 or rediss://...)")
    config.update(
        broker_url=url,
        broker_transport_options={
            "visibility_timeout": VISIBILITY_TIMEOUT_SECONDS,
            "socket_connect_timeout": 5,
            "socket_keepalive": True,
            "health_check_interval": 25,
        },
    )
    if parts.scheme == "rediss":
        # Heroku Key-Value Store uses TLS with a self-signed certificate.
        config["broker_use_ssl"] = redis_tls_options(url)
    config.update(redbeat_config(url))
    return config


def redbeat_config(url: str) -> dict[str, Any]:
    """The clock on Redis: RedBeat's schedule and lock, so a second clock waits instead of scheduling twice.

    The lock is renewed on every beat tick (at most BEAT_MAX_LOOP_SECONDS apart)
    and released on SIGTERM; a clock killed outright holds it until it expires,
    and a waiting clock, polling every BEAT_MAX_LOOP_SECONDS, takes over then.
    """
    return {
        "beat_scheduler": "redbeat.RedBeatScheduler",
        "redbeat_redis_url": url,
        "redbeat_lock_timeout": BEAT_LOCK_TIMEOUT_SECONDS,
        # Named explicitly: RedBeat's fallback to the broker's options is deprecated.
        # retry_period -1: a clock started while Redis is away waits for it instead of crash-looping.
        "redbeat_redis_options": {
            "socket_connect_timeout": 5,
            "socket_timeout": 5,
            "socket_keepalive": True,
            "health_check_interval": 25,
            "retry_period": -1,
        },
        **({"redbeat_redis_use_ssl": redis_tls_options(url)} if url.startswith("rediss:") else {}),
    }


def _log_level(env: Mapping[str, str]) -> str:
    value = env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if value not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError("LOG_LEVEL", f"must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {value!r}")
    return value
