"""Blasto: a small online shop on Flask, gunicorn and Celery, shaped for Heroku.

`APP` is the one WSGI application (`gunicorn blasto:APP`, `flask --app blasto`,
`celery --app blasto.worker`). It is built on first access rather than at
import, so importing a submodule (tests, migrations, gunicorn.conf.py) does not
read the environment. A configuration error stops the process with a single
line naming the variable instead of a traceback.
"""
import sys

from blasto.app import create_app
from blasto.core.config import ConfigError

__all__ = ["APP", "create_app"]
__version__ = "0.1.0"


def _build():
    try:
        return create_app()
    except ConfigError as exc:
        if _flask_command() == "check":  # `flask --app blasto check` reports it, with every other problem
            from blasto.deploy_check import check_only_app

            return check_only_app()
        print(f"blasto: cannot start: {exc}", file=sys.stderr, flush=True)
        # 3 is gunicorn's "worker failed to boot": the arbiter stops instead of
        # respawning workers that can never start.
        raise SystemExit(3) from None


def _flask_command() -> str | None:
    """The subcommand of a `flask [--app X] [-e FILE] [--debug] COMMAND ...` command line, if this is one."""
    if not sys.argv or not sys.argv[0].replace("\\", "/").endswith(("flask", "flask/__main__.py")):
        return None
    args = iter(sys.argv[1:])
    for arg in args:
        if arg in ("--app", "-A", "--env-file", "-e"):
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def __getattr__(name: str):
    # `flask --app blasto` looks up `app` (here the submodule blasto.app), then
    # `application`: answering that keeps the CLI on the same guarded path.
    if name in ("APP", "application"):
        application = _build()
        globals().update(APP=application, application=application)
        return application
    raise AttributeError(f"module 'blasto' has no attribute {name!r}")
