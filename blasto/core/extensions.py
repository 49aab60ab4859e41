"""Extensions created unbound; `create_app` binds them with `init_app`."""

from typing import TYPE_CHECKING

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints keep Alembic migrations portable between SQLite and Postgres.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base given to Flask-SQLAlchemy (its typed 3.1 pattern), holding the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

# Models subclass `Model`: mypy cannot take the attribute `db.Model` as a base class (python/mypy#8603),
# so type checking sees the declarative base that `db.Model` is built from.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
migrate = Migrate()

# Pages log in with Flask-Login sessions and post forms guarded by CSRF tokens;
# the JSON API uses bearer tokens instead and is exempt (blasto.api.core).
login_manager = LoginManager()
login_manager.login_view = "site.login"
login_manager.login_message = "Please log in to see that page."
login_manager.login_message_category = "info"
csrf = CSRFProtect()
