"""Blasto: a small online shop on Flask, gunicorn and Celery, shaped for Heroku.

`APP` is the one WSGI application (`gunicorn blasto:APP`; `celery --app
blasto.worker` uses the Celery app bound to it), built by `create_app()` on
first access rather than at import, so importing a submodule (tests,
migrations, gunicorn.conf.py) does not read the environment. A configuration
error stops the process with one line naming the variable, not a traceback.

`flask --app blasto` looks up `application`: the same app or, when the
environment cannot build it, a stand-in on which `check` reports every problem
and every other command refuses with that one line.

Loading the app's modules and building `APP` make some 280,000 objects that
live as long as the process. Python's collector would walk them again and
again while they pile up, and once more as the process exits: about a third
of the CPU of a process that starts, does one thing and exits (a release
phase, a one-off dyno, a worker boot). So both run with collection paused and
end with `gc.freeze()`, which leaves those objects out of every later
collection; objects made afterwards are collected as usual. Figures in
docs/BENCHMARKS.md.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def _long_lived() -> Iterator[None]:
    """Collect nothing while the block runs; then freeze what exists, and collect again if we were."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


with _long_lived():
    from flask import Flask

    from blasto.app import create_app
    from blasto.core.env import ConfigError, cannot_start
    from blasto.deploy_check import check_only_app

__all__ = ["APP", "create_app"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Flask:
    if name not in ("APP", "application"):
        raise AttributeError(f"module 'blasto' has no attribute {name!r}")
    try:
        with _long_lived():
            application = create_app()
    except ConfigError as error:
        if name == "APP":
            cannot_start(error)
        return check_only_app(error)
    globals().update(APP=application, application=application)
    return application
