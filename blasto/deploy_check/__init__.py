"""`flask --app blasto check`: what would stop this app on Heroku, found before `git push heroku`.

It checks three things and says each problem in plain words with what to do:

- the environment, as production would read it (`environment`): the same
  loader and ConfigError messages the processes use, so the check and the
  dyno can never disagree; values are never printed, only variable names;
- the deploy files (`procfile`, `manifest`, `python_version`, `lock`): every
  Procfile target imports, the Python version files agree, app.json's env
  gives production what it requires, and the lock matches the Pipfile;
- the connection budget (`connections`): what the formation's processes can
  hold at most in Postgres and in Redis, against the add-on plans' limits.

Exit code 0 when all is well, 1 otherwise. The environment checked is the
process's own (on a dyno: `heroku run flask --app blasto check`) or a file of
`KEY=value` lines (`--config-vars`, e.g. from `heroku config --shell`). A broken
environment cannot stop the check itself: `blasto.__init__` gives the flask
command a stand-in app when the real one cannot be built (`check_only_app`).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from blasto.core.env import ConfigError, cannot_start
from blasto.deploy_check import child, connections, environment, formation, lock, manifest, procfile, python_version
from blasto.deploy_check.formation import FormationError, scaled
from blasto.deploy_check.report import Report

ROOT = Path(__file__).resolve().parents[2]


@click.command("check")
@click.option(
    "--root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=ROOT,
    show_default="the repository",
    help="The directory holding Procfile, runtime.txt, Pipfile, Pipfile.lock and app.json.",
)
@click.option(
    "--config-vars",
    "env_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Check these KEY=value lines (e.g. `heroku config --shell`) instead of this process's environment.",
)
@click.option(
    "--formation",
    "scale",
    callback=lambda ctx, param, value: _valid_scale(value),
    metavar="PROCESS=N[:SIZE],...",
    help="Count app.json's dynos changed as `heroku ps:scale` would, e.g. web=2:standard-2x,worker=1.",
)
@click.option("--postgres-plan", metavar="PLAN", help="The Heroku Postgres plan (default: app.json's): essential-0...")
@click.option("--redis-plan", metavar="PLAN", help="The Heroku Key-Value Store plan (default: app.json's): mini...")
def check(root: Path, env_file: Path | None, scale: str | None, postgres_plan: str | None, redis_plan: str | None):
    """Check the environment, the deploy files and the connection budget as Heroku meets them; exit 1 on a problem."""
    env = read_env_file(env_file) if env_file else dict(os.environ)
    report = Report()
    click.echo(
        f"Checking {root} for Heroku, with {'the variables in ' + str(env_file) if env_file else 'this environment'} read as production would."
    )
    environment.check(report, env)
    processes, targets = procfile.check(report, root)
    gunicorn = environment.gunicorn_job(env, root)
    if targets or gunicorn:
        findings = child.run(root, procfile.to_load(targets), gunicorn)
        procfile.report_targets(report, targets, findings)
        if gunicorn:
            environment.report_gunicorn(report, findings)
    python_version.check(report, root)
    app_json = manifest.check(report, root, processes)
    lock.check(report, root, env)
    given = {"postgres": postgres_plan, "redis": redis_plan}
    plans = {**manifest.addon_plans(app_json), **{service: plan for service, plan in given.items() if plan}}
    _budget(report, env, processes, app_json, scale, plans)
    for line in report.lines():
        click.echo(line)
    raise SystemExit(0 if report.ok else 1)


def _valid_scale(value: str | None) -> str | None:
    if value:
        try:
            scaled({}, value)
        except FormationError as exc:
            raise click.BadParameter(str(exc), param_hint="--formation") from None
    return value


def _budget(report: Report, env: dict, processes: dict, app_json: dict | None, scale: str | None, plans: dict) -> None:
    _, loadable = environment.production_env(env)
    if loadable is None:
        report.note("the connection budget was not computed: fix the environment's problems first")
        return
    dynos = formation.from_manifest(app_json or {})
    origin = "app.json's formation"
    if scale:
        dynos, origin = formation.scaled(dynos, scale), f"{origin} scaled by --formation {scale}"
    connections.check(report, dynos, connections.settings_from(loadable, processes), plans, origin)


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


def check_only_app(error: ConfigError) -> Flask:
    """The app `flask --app blasto` gets when the environment cannot build the real one: `check` only."""
    app = Flask("blasto")
    app.cli = OnlyCheck(error)
    return app


class OnlyCheck(AppGroup):
    """`check` runs; any other command says why the app cannot start, as a process that needs the app would."""

    def __init__(self, error: ConfigError):
        super().__init__()
        self.error = error
        self.add_command(check)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        settings = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}
        return click.Command(cmd_name, context_settings=settings, callback=lambda: cannot_start(self.error))
