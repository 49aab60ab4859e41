import logging

from alembic import context
from flask import current_app
from sqlalchemy.exc import DBAPIError

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Logging is configured by the app (logfmt on stdout, see blasto/core/logs.py);
# alembic.ini's [loggers] sections are deliberately not applied.
logger = logging.getLogger("alembic.env")

# The release runs on a live shop: a statement that waits for a lock holds
# every checkout queued behind it, so on Postgres no statement waits longer
# than this; the release gives up instead (README, "Migrations on a live shop").
# No statement_timeout: what runs long without blocking (a concurrent index
# build) must be allowed to finish, and Heroku ends a release after an hour.
LOCK_TIMEOUT = "5s"
LOCK_NOT_AVAILABLE = "55P03"  # Postgres's SQLSTATE for a lock_timeout


def get_engine():
    return current_app.extensions["migrate"].db.engine


def get_engine_url():
    try:
        return get_engine().url.render_as_string(hide_password=False).replace("%", "%%")
    except AttributeError:
        return str(get_engine().url).replace("%", "%%")


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option("sqlalchemy.url", get_engine_url())
target_db = current_app.extensions["migrate"].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    if hasattr(target_db, "metadatas"):
        return target_db.metadatas[None]
    return target_db.metadata


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        target_metadata=get_metadata(),
        literal_binds=True,
        transaction_per_migration=True,
    )
    if context.get_context().dialect.name == "postgresql":
        context.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = current_app.extensions["migrate"].configure_args
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    connectable = get_engine()

    with connectable.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.exec_driver_sql(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
            connection.commit()
        # One transaction per revision: a revision with a concurrent index
        # build commits what came before it anyway (autocommit_block), and a
        # release that gives up keeps the revisions it completed.
        context.configure(
            connection=connection, target_metadata=get_metadata(), transaction_per_migration=True, **conf_args
        )
        try:
            with context.begin_transaction():
                context.run_migrations()
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            gave_up(exc, context.get_context().get_current_revision())
        finally:
            if postgres:  # its lock_timeout must not reach the pool
                connection.invalidate()


def gave_up(exc, revision):
    """A lock wait hit lock_timeout: say what and what to do, and fail the release (Heroku then cancels it)."""
    statement = " ".join((exc.statement or "").split())[:200]
    logger.error(
        "release gave up: a statement waited %s for a lock that another "
        "transaction holds (lock_timeout), rather than hold checkouts queued "
        "behind it; the database stays at revision %s. Find the transaction "
        "that holds the table (heroku pg:locks, or pg_stat_activity), end it "
        'or wait for it, then deploy again (README: "Migrations on a live '
        'shop"). Statement: %s',
        LOCK_TIMEOUT,
        revision,
        statement,
    )
    raise SystemExit(1)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
