"""Which dynos run: app.json's `formation`, changed as `heroku ps:scale` would change it (`--formation`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from blasto.deploy_check.platform import DEFAULT_SIZE, WEB_CONCURRENCY_BY_SIZE

SCALE = re.compile(r"^([A-Za-z0-9_-]+)=(\d+)(?::([A-Za-z0-9-]+))?$")  # web=2:standard-2x, as `heroku ps:scale` takes it


class FormationError(ValueError):
    """A --formation that cannot be read; the message says what is wrong."""


@dataclass(frozen=True)
class Dynos:
    process: str  # the Procfile's name: web, worker, clock
    quantity: int
    size: str


def from_manifest(manifest: dict) -> dict[str, Dynos]:
    """app.json's formation (`{"web": {"quantity": 1, "size": "basic"}}`); entries without a size get DEFAULT_SIZE."""
    formation = {}
    for name, spec in (manifest.get("formation") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        quantity = spec.get("quantity", 1)
        quantity = quantity if isinstance(quantity, int) and quantity >= 0 else 1
        formation[name] = Dynos(name, quantity, str(spec.get("size") or DEFAULT_SIZE).lower())
    return {name: dynos for name, dynos in formation.items() if dynos.quantity}


def scaled(formation: dict[str, Dynos], changes: str) -> dict[str, Dynos]:
    """`formation` with `web=2:standard-2x,worker=1` applied; a process without a size keeps its own (0 removes it)."""
    result = dict(formation)
    for word in re.split(r"[,\s]+", changes.strip()):
        if not word:
            continue
        match = SCALE.match(word)
        if not match:
            raise FormationError(f"{word!r} is not PROCESS=QUANTITY[:SIZE], e.g. web=2:standard-2x")
        name, quantity, size = match.group(1), int(match.group(2)), (match.group(3) or "").lower()
        if size and size not in WEB_CONCURRENCY_BY_SIZE:
            raise FormationError(f"{size!r} is not a dyno size; one of {', '.join(WEB_CONCURRENCY_BY_SIZE)}")
        size = size or (result[name].size if name in result else DEFAULT_SIZE)
        result[name] = Dynos(name, quantity, size)
    return {name: dynos for name, dynos in result.items() if dynos.quantity}


def describe(formation: Mapping[str, Dynos]) -> str:
    return ", ".join(f"{d.process}={d.quantity}:{d.size}" for d in formation.values()) or "no dynos"
