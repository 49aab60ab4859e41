"""What a test app published to its embedded (SQLite) broker, read straight from the file."""

from __future__ import annotations

import base64
import json
import sqlite3
from contextlib import closing
from pathlib import Path


def queued_tasks(tmp_path: Path, task: str, header: str) -> list[tuple[object, str | None]]:
    """(first argument, value of `header`) of each `task` message in tmp_path's broker, in order."""
    path = tmp_path / "celery-broker.sqlite3"
    if not path.exists():
        return []
    with closing(sqlite3.connect(path)) as connection:
        try:
            payloads = [row[0] for row in connection.execute("SELECT payload FROM kombu_message ORDER BY id")]
        except sqlite3.OperationalError:  # no table yet: nothing was ever published
            return []
    found = []
    for payload in payloads:
        message = json.loads(payload)
        if message["headers"]["task"] == task:
            args = json.loads(base64.b64decode(message["body"]))[0]
            found.append((args[0], message["headers"].get(header)))
    return found
