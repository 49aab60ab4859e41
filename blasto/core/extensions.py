"""Extensions created unbound; `create_app` binds them with `init_app`."""
import logging

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData

# Named constraints keep Alembic migrations portable between SQLite and Postgres.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate()
log = logging.getLogger("blasto.outages")


def end_session(exc: BaseException | None = None) -> None:
    """Remove the request's session; a connection Postgres dropped meanwhile is logged, never raised to gunicorn.

    Closing the session sends a ROLLBACK, after the response is built and
    after Flask's error handlers: a backend ended by a failover or maintenance
    would raise there and become gunicorn's bare 500. SQLAlchemy invalidates
    the dead connection (the pool opens a new one), and the response stands.
    Registered after `db.init_app`, so it runs before Flask-SQLAlchemy's own
    teardown, which then finds no session to remove.
    """
    from blasto.web.outages import cause, database_errors

    try:
        db.session.remove()
    except database_errors() as error:
        log.warning("database connection lost at the end of the request; discarded", extra={"error": cause(error)})
        db.session.remove()  # the failed close ended the transaction; this forgets the session

# Pages log in with Flask-Login sessions and post forms guarded by CSRF tokens;
# the JSON API uses bearer tokens instead and is exempt (blasto.api.core).
login_manager = LoginManager()
login_manager.login_view = "site.login"
login_manager.login_message = "Please log in to see that page."
login_manager.login_message_category = "info"
csrf = CSRFProtect()


@login_manager.user_loader
def load_user(ident: str):
    from blasto.models.login_session import user_for_login

    return user_for_login(ident)
