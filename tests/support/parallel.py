"""Running the suite on several pytest-xdist workers: who this worker is, and which tests go together.

Each worker is its own pytest session, so session fixtures (the migrated
template databases) exist once per worker, and what the services hold must be
split: each worker takes its own Redis database (tests.support.services) and
its own slice of the port range (tests.support.processes). Postgres databases
already have random names.

Tests that share a module- or package-scoped fixture (the attack modules' shop,
the browser package's running stack) must run on one worker, one after the
other, or each worker would build that fixture again, and again whenever
another module's test ran in between. `grouped_scheduling` sends each such
module or package to one worker as a unit and every other test on its own.
"""

from __future__ import annotations

import os

# Node id prefixes whose tests run on one worker, in order (a package: "dir/"; a module: "dir/test_x.py").
SHARED = (
    "tests/browser/",  # one Procfile stack and one browser for the package
    "tests/attack/",  # one shop per module (module_pg_shop); split by module below
    "tests/unit/test_sweep_heartbeats.py",  # one app and Celery test worker per database
)
SPLIT_BY_MODULE = ("tests/attack/",)
# Heaviest first, so the long units do not start last and leave the other workers idle at the end.
FIRST = ("tests/browser/", "tests/e2e/", "tests/deploy/", "tests/attack/test_schemathesis.py")


def worker_index() -> int:
    """0 for gw0 (or a run without workers), 1 for gw1, and so on."""
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))


def worker_count() -> int:
    return int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))


def unit_of(nodeid: str) -> str:
    """The work unit a test belongs to: its module or package when listed in SHARED, else the test itself."""
    for prefix in SHARED:
        if nodeid.startswith(prefix):
            if prefix in SPLIT_BY_MODULE:
                return nodeid.split("::", 1)[0]
            return prefix
    return nodeid


def grouped_scheduling(config, log):
    """xdist's load scheduling by scope, where a test's scope is `unit_of(nodeid)`."""
    from xdist.scheduler import LoadScopeScheduling

    class GroupedScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    return GroupedScheduling(config, log)


def heaviest_first(items: list) -> None:
    """Reorder in place, stably: FIRST's tests in its order, then the rest as collected."""

    def rank(item) -> int:
        return next((index for index, prefix in enumerate(FIRST) if item.nodeid.startswith(prefix)), len(FIRST))

    items.sort(key=rank)


def ungrouped_shared_fixtures(items: list) -> list[str]:
    """Tests using a module- or package-scoped fixture whose work unit does not hold every test sharing it.

    Such a test would build the fixture again on every worker it lands on: add
    its module or package to SHARED.
    """
    wrong = []
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        module = item.nodeid.split("::", 1)[0]
        unit = unit_of(item.nodeid)
        for definitions in info.name2fixturedefs.values() if info else ():
            fixture = definitions[-1]
            if fixture.scope == "package":
                needed = f"{fixture.baseid}/"
            elif fixture.scope in ("module", "class"):
                needed = module
            else:
                continue
            if not needed.startswith(unit):
                wrong.append(f"{item.nodeid} (the {fixture.scope}-scoped fixture {fixture.argname})")
                break
    return wrong
