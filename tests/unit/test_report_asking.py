"""Asking for a report: one build per range at a time, however many ask at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import func, select, update

from blasto.core.extensions import db
from blasto.models import Report
from blasto.models.report import DONE, FAILED, QUEUED, RUNNING
from blasto.reports import asking
from blasto.reports.asking import ask_for_report, in_flight
from blasto.reports.ranges import DateRange
from tests.support.report_databases import postgres_config, queued_builds

SPAN = DateRange(date(2024, 3, 1), date(2024, 3, 31))


def reports() -> list[tuple[int, str]]:
    found = db.session.execute(select(Report.id, Report.state).order_by(Report.id)).all()
    db.session.rollback()
    return [tuple(r) for r in found]


def finish(report_id: int, state: str) -> None:
    db.session.execute(
        update(Report).where(Report.id == report_id).values(state=state, progress=100 if state == DONE else 0)
    )
    db.session.commit()


def test_asking_twice_gives_the_same_report_and_queues_one_build(reports_app, tmp_path):
    first, created = ask_for_report(SPAN, None)
    assert created and first.state == QUEUED and (first.date_from, first.date_to) == (SPAN.first, SPAN.last)
    again, created_again = ask_for_report(SPAN, None)
    assert (again.id, created_again) == (first.id, False)
    assert [report for report, _ in queued_builds(tmp_path)] == [first.id]
    assert in_flight(SPAN).id == first.id

    # Another range is another report.
    other, created_other = ask_for_report(DateRange(SPAN.first, date(2024, 4, 1)), None)
    assert created_other and other.id != first.id


def test_a_running_report_is_shared_too(reports_app):
    first, _ = ask_for_report(SPAN, None)
    db.session.execute(update(Report).where(Report.id == first.id).values(state=RUNNING, progress=42))
    db.session.commit()
    again, created = ask_for_report(SPAN, None)
    assert (again.id, created, again.progress) == (first.id, False, 42)


@pytest.mark.parametrize("ended", [DONE, FAILED])
def test_once_the_report_has_ended_asking_again_builds_a_new_one(reports_app, tmp_path, ended):
    first, _ = ask_for_report(SPAN, None)
    finish(first.id, ended)
    second, created = ask_for_report(SPAN, None)
    assert created and second.id != first.id and second.state == QUEUED
    assert reports() == [(first.id, ended), (second.id, QUEUED)]
    assert [report for report, _ in queued_builds(tmp_path)] == [first.id, second.id]
    assert ask_for_report(SPAN, None) == (second, False)


def test_eight_admins_asking_at_once_share_one_report(migrated_postgres, make_app, monkeypatch):
    """Postgres: the partial unique index settles the race; the losers read the winner's row."""
    app = make_app(migrated_postgres, **postgres_config(migrated_postgres, pool_size=10))
    lookups = []
    original = asking.in_flight

    def counted(span):
        lookups.append(span)
        return original(span)

    monkeypatch.setattr(asking, "in_flight", counted)
    threads = 8
    barrier = threading.Barrier(threads)

    def ask(_):
        with app.app_context():
            barrier.wait(timeout=10)
            try:
                report, created = ask_for_report(SPAN, None)
                return report.id, created
            finally:
                db.session.remove()

    with ThreadPoolExecutor(threads) as pool:
        answers = list(pool.map(ask, range(threads), timeout=30))

    ids = {report_id for report_id, _ in answers}
    assert len(ids) == 1, answers
    assert sum(created for _, created in answers) == 1, answers
    assert len(lookups) == threads - 1  # each loser's insert hit the index, then it read the winner's row
    assert db.session.scalar(select(func.count()).select_from(Report)) == 1
    assert db.session.scalar(select(Report.id)) == ids.pop()
