"""The newest Alembic revision in migrations/, so tests need no edit per migration."""
from alembic.config import Config
from alembic.script import ScriptDirectory

from tests.support.processes import ROOT


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()
