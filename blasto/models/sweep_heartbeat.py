"""When each periodic task last ran: the sweeps and the worker's heartbeat, read by /readyz.

The clock only sends them; a worker runs them and records the run here, in
the database every process shares (Postgres, or the SQLite file of the
embedded defaults). A row that stops moving shows a missing clock or worker,
which nothing else would: periodic work fails quietly by not happening.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from blasto.core.extensions import Model, db
from blasto.models.base import UTCDateTime, utcnow


class SweepHeartbeat(Model):
    __tablename__ = "sweep_heartbeats"

    # The sweep's Celery task name, as in the beat schedule ("blasto.outbox.sweep").
    task: Mapped[str] = mapped_column(String(100), primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime)


def record_sweep(task: str) -> None:
    """Stamp `task`'s row with now (insert or update) and commit."""
    dialect = {"postgresql": postgresql, "sqlite": sqlite}[db.session.get_bind().dialect.name]
    now = utcnow()
    upsert = dialect.insert(SweepHeartbeat).values(task=task, ran_at=now)
    db.session.execute(upsert.on_conflict_do_update(index_elements=[SweepHeartbeat.task], set_={"ran_at": now}))
    db.session.commit()
