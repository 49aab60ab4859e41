"""What `python3 dev.py test --fast` leaves out, beyond processes and browsers (pytest.ini's markers).

A test run on both databases runs its SQLite half in the fast tier and both
in the full suite: Postgres's half clones a database per test, and the
SQLite half already proves the logic; the full suite proves Postgres.
"""

from __future__ import annotations

import pytest

POSTGRES_PARAM = pytest.param("postgres", marks=pytest.mark.slow)


def mark_sweep_tail(item: pytest.Item, firsts: set[tuple[str, str]]) -> None:
    """Mark every case of a sweep but its first `slow` (call as each item is collected, in order)."""
    if item.get_closest_marker("sweep") is None:
        return
    key = (str(item.path), getattr(item, "originalname", item.name))
    if key in firsts:
        item.add_marker(pytest.mark.slow)
    else:
        firsts.add(key)
