"""`flask --app blasto check`: what would stop this app on Heroku, found before `git push heroku`.

It checks two things and says each problem in plain words with what to do:

- the environment, as production would read it (`environment`): the same
  loader and ConfigError messages the processes use, so the check and the
  dyno can never disagree; values are never printed, only variable names;
- the deploy files (`procfile`, `manifest`, `python_version`, `lock`): every
  Procfile target imports, runtime.txt agrees with the Pipfile, app.json's
  env gives production what it requires, and the lock matches the Pipfile.

Exit code 0 when all is well, 1 otherwise. The environment checked is the
process's own (on a dyno: `heroku run flask --app blasto check`) or a file of
`KEY=value` lines (`--config-vars`, e.g. from `heroku config --shell`). A broken
environment cannot stop the check itself: `blasto.__init__` gives this
command a bare app when the real one cannot be built (`check_only_app`).
"""
from __future__ import annotations

import os
import shlex
from pathlib import Path

import click

from blasto.deploy_check.report import Report

ROOT = Path(__file__).resolve().parents[2]


@click.command("check")
@click.option("--root", type=click.Path(file_okay=False, exists=True, path_type=Path), default=ROOT, show_default="the repository",
              help="The directory holding Procfile, runtime.txt, Pipfile, Pipfile.lock and app.json.")
@click.option("--config-vars", "env_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Check these KEY=value lines (e.g. `heroku config --shell`) instead of this process's environment.")
def check(root: Path, env_file: Path | None):
    """Check the environment and the deploy files as Heroku would use them; exit 1 on any problem."""
    from blasto.deploy_check import environment, lock, manifest, procfile, python_version

    env = read_env_file(env_file) if env_file else dict(os.environ)
    report = Report()
    click.echo(f"Checking {root} for Heroku, with {'the variables in ' + str(env_file) if env_file else 'this environment'} read as production would.")
    environment.check(report, env, root)
    processes = procfile.check(report, root)
    python_version.check(report, root)
    manifest.check(report, root, processes)
    lock.check(report, root, env)
    for line in report.lines():
        click.echo(line)
    raise SystemExit(0 if report.ok else 1)


def read_env_file(path: Path) -> dict[str, str]:
    """`KEY=value` lines, shell-quoted as `heroku config --shell` writes them; # comments and blanks skipped."""
    env: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            words = shlex.split(line.removeprefix("export "))
        except ValueError:
            words = []
        if len(words) != 1 or "=" not in words[0]:
            raise click.BadParameter(f"line {number} is not KEY=value", param_hint="--config-vars")
        key, _, value = words[0].partition("=")
        env[key] = value
    return env


def check_only_app():
    """An app with nothing but this command, for when the environment cannot build the real one."""
    from flask import Flask

    app = Flask("blasto")
    app.cli.add_command(check)
    return app
