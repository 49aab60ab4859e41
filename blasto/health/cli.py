"""Operator commands: `flask --app blasto <command>`."""

import json

import click
from flask.cli import with_appcontext

from blasto.health.checks import readiness


@click.command("ready")
@with_appcontext
def ready():
    """Run the /readyz checks from a shell; exit 1 when a part is down."""
    ok, checks, queue = readiness()
    click.echo(json.dumps({"ready": ok, "checks": checks, "queue": queue}, indent=2))
    raise SystemExit(0 if ok else 1)
