"""Sales-report benchmark (issue 5): how long a build takes, and how often its progress moves.

Run from anywhere: `.venv/bin/python bench/reports.py [--sales 30000]` (about
30 s). It needs Postgres at 127.0.0.1:5432 (user postgres, trust). In one run,
on a fresh database (blasto_bench_reports_<hex>, dropped on exit) seeded with
`seed --sales N` (a year of sample history), it builds reports over 30, 90 and
365 days with the worker's own code (blasto.reports.building.build) and prints,
per range:

- sale lines read, build time, lines per second;
- the floor: the same totals from one SQL GROUP BY, timed side by side, and
  the build's time as a multiple of it (the price of streaming in chunks with
  progress, CSVs and a chart);
- progress writes and the longest gap between two of them: a bar polled every
  0.4 s moves visibly when the gap is well under the build time.

Results go to docs/BENCHMARKS.md by hand, with this command.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("BLASTO_ENV", "development")
os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")

from sqlalchemy import text  # noqa: E402

from tests.support.services import drop_database, fresh_database_url  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
RANGES = (30, 90, 365)
FLOOR_SQL = text(
    "SELECT date_trunc('day', p.created_at AT TIME ZONE 'UTC') AS day, i.product_id, count(DISTINCT p.id), sum(i.quantity), sum(i.quantity * i.unit_price_cents) "
    "FROM purchases p JOIN purchase_items i ON i.purchase_id = p.id WHERE p.created_at >= :start AND p.created_at < :end GROUP BY 1, 2"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    url, name = fresh_database_url(ADMIN_URL, prefix="blasto_bench_reports")
    try:
        return run(url, args.sales, args.rounds)
    finally:
        drop_database(ADMIN_URL, name)


def run(url: str, sales: int, rounds: int) -> int:
    from flask_migrate import upgrade

    from blasto import create_app
    from blasto.core.config import database_uri, engine_options
    from blasto.core.extensions import db
    from blasto.models import Report
    from blasto.reports import building, rendering
    from blasto.reports.ranges import DateRange
    from blasto.shop.sample_sales import seed_sales
    from blasto.shop.seed import seed_catalog

    uri = database_uri(url, None)
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": uri, "SQLALCHEMY_ENGINE_OPTIONS": engine_options(uri, 5), "LOG_LEVEL": "WARNING"}
    )
    writes: list[float] = []
    show = building.Progress.show

    def timed_show(self, percent, force=False):
        before = self.written_at
        show(self, percent, force)
        if self.written_at != before:
            writes.append(self.written_at)

    building.Progress.show = timed_show
    with app.app_context():
        upgrade()
        seed_catalog()
        started = time.perf_counter()
        seed_sales(sales)
        print(f"seeded {sales:,} sales in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        rendering.chart_png(
            DateRange(date.today(), date.today()), building.Totals(), {}
        )  # warm matplotlib's font cache
        print(
            f"{'days':>5} {'lines':>8} {'build s':>8} {'lines/s':>9} {'floor s':>8} {'x floor':>8} {'writes':>7} {'max gap s':>9}"
        )
        for days in RANGES:
            span = DateRange(date.today() - timedelta(days=days - 1), date.today())
            start, end = span.bounds()
            builds, floors, gaps, counts = [], [], [], []
            for _ in range(rounds):
                started = time.perf_counter()
                db.session.execute(FLOOR_SQL, {"start": start, "end": end}).all()
                db.session.commit()
                floors.append(time.perf_counter() - started)
                report = Report(date_from=span.first, date_to=span.last)
                db.session.add(report)
                db.session.commit()
                writes.clear()
                started = time.perf_counter()
                writes.append(time.monotonic())
                assert building.build(report.id) == "done"
                builds.append(time.perf_counter() - started)
                writes.append(time.monotonic())
                gaps.append(max(b - a for a, b in zip(writes, writes[1:])))
                counts.append(len(writes) - 2)
            lines = db.session.scalar(
                text(
                    "SELECT count(*) FROM purchase_items i JOIN purchases p ON p.id = i.purchase_id WHERE p.created_at >= :start AND p.created_at < :end"
                ),
                {"start": start, "end": end},
            )
            build, floor = statistics.median(builds), statistics.median(floors)
            print(
                f"{days:>5} {lines:>8,} {build:>8.2f} {lines / build:>9,.0f} {floor:>8.3f} {build / floor:>8.1f} {statistics.median(counts):>7.0f} {statistics.median(gaps):>9.2f}"
            )
        db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
