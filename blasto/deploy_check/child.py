"""The one child process of a check: what only a fresh interpreter in the deploy directory can tell.

Two checks need it: the Procfile's targets must load as each program loads
them, in a stand-in production environment (so they fail on code, not on this
shell's variables), and gunicorn.conf.py must accept the app's own PORT,
WEB_CONCURRENCY and GUNICORN_THREADS. Both import the whole app, which is most
of a check's time, so one child does both: the targets first, then
gunicorn.conf.py with the app's environment put in place of the stand-in
(it reads os.environ when it runs, and nothing else of the environment).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MARKER = "BLASTO-CHECK-CHILD "
LOADERS = {
    "gunicorn": "from gunicorn.util import import_app as load",
    "celery": "from celery.app.utils import find_app as load",
    "flask": "from flask.cli import ScriptInfo\ndef load(path): return ScriptInfo(app_import_path=path).load_app()",
}
CODE = """
import contextlib, io, json, os, runpy, sys
jobs = json.loads(sys.argv[1])
targets = {}
for program, target in jobs["targets"]:
    namespace = {}
    exec(LOADERS[program], namespace)
    try:
        namespace["load"](target)
        targets[program + " " + target] = None
    except BaseException as exc:  # SystemExit included: a process that would not start
        targets[program + " " + target] = f"{type(exc).__name__}: {exc}"
gunicorn = None
if jobs["gunicorn"]:
    path, env = jobs["gunicorn"]
    os.environ.clear()
    os.environ.update(env)
    said, code = io.StringIO(), 0
    with contextlib.redirect_stderr(said):
        try:
            runpy.run_path(path)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:
            code = 1
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
    gunicorn = [code, said.getvalue()]
print(MARKER + json.dumps({"targets": targets, "gunicorn": gunicorn}))
"""


@dataclass(frozen=True)
class Findings:
    targets: dict[str, str | None] | None  # "program target" -> None if it loads, else why not; None: not run
    gunicorn: tuple[int, str] | None  # gunicorn.conf.py's exit code and what it wrote to stderr; None: not run
    failure: str | None  # why the child said nothing, when it did not


def run(root: Path, targets: list[tuple[str, str]], gunicorn: tuple[Path, Mapping[str, str]] | None) -> Findings:
    """Load `targets` ((program, target) pairs), then run gunicorn.conf.py (its path, the app's environment)."""
    # A production environment that starts, whatever this shell holds; nothing connects at import.
    stand_in = {
        "PATH": str(Path(sys.executable).parent),
        "PYTHONPATH": str(root),
        "BLASTO_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": "postgres://check:check@localhost:5432/check",
        "REDIS_URL": "redis://localhost:6379/0",
        "LOG_LEVEL": "WARNING",
    }
    jobs = {"targets": targets, "gunicorn": [str(gunicorn[0]), dict(gunicorn[1])] if gunicorn else None}
    code = f"LOADERS = {LOADERS!r}\nMARKER = {MARKER!r}\n{CODE}"
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(jobs)],
        cwd=root,
        env=stand_in,
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = next((line for line in reversed(result.stdout.splitlines()) if line.startswith(MARKER)), None)
    if line is None:
        return Findings(None, None, (result.stderr.strip().splitlines() or ["no output"])[-1])
    found = json.loads(line[len(MARKER) :])
    return Findings(found["targets"], tuple(found["gunicorn"]) if found["gunicorn"] else None, None)
