"""`flask --app blasto outbox list|retry`: see what is owed, send failed mail again."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import OutboxMessage
from blasto.models.outbox import STATES
from blasto.outbox.delivery import send_again
from blasto.outbox.records import state_counts

outbox = AppGroup("outbox", help="E-mails owed to shoppers: receipts and welcomes.")


@outbox.command("list")
@click.option("--state", type=click.Choice(STATES), help="Only rows in this state.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
def list_messages(state: str | None, limit: int):
    """Counts per state, then the newest rows (with their last error)."""
    counts = state_counts()
    click.echo("  ".join(f"{name}={counts.get(name, 0)}" for name in STATES))
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if state:
        query = query.where(OutboxMessage.state == state)
    for row in db.session.scalars(query):
        error = f"  last_error={row.last_error!r}" if row.last_error else ""
        click.echo(
            f"{row.id}  {row.key}  {row.state}  attempts={row.attempts}  created={row.created_at:%Y-%m-%d %H:%M:%S}{error}"
        )


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=click.IntRange(1))
@click.option("--all-failed", is_flag=True, help="Every failed row.")
def retry(ids: tuple[int, ...], all_failed: bool):
    """Send failed e-mails again (rows already sent are never sent twice)."""
    if bool(ids) == all_failed:
        raise click.UsageError("Give the ids of failed rows, or --all-failed.")
    reopened, queued = send_again(None if all_failed else list(ids))
    skipped = sorted(set(ids) - set(reopened))
    if skipped:
        click.echo(f"Not failed (sent, pending or unknown), left alone: {', '.join(map(str, skipped))}")
    click.echo(
        f"Reopened {len(reopened)}; queued {queued}"
        + ("" if queued == len(reopened) else " (the rest go with the next sweep)")
        + "."
    )
