"""Sales reports through the real processes: a worker that dies mid-build never leaves one stuck.

web, worker and clock are the Procfile's own command lines, each its own
process group so the worker can be SIGKILLed alone, as a crashed dyno. The
report is asked for and followed through the API; the build reads a year of
seeded sales from Postgres. Every wait is on a condition with a deadline.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from urllib.parse import urljoin

import pytest
import requests
from sqlalchemy import create_engine, text

from blasto.core.config import database_uri
from tests.support.http_client import new_account
from tests.support.processes import production_env, run_command, wait_for

pytestmark = pytest.mark.processes

SALES = 30_000  # a year of history: a build takes over a second here, long enough to kill it midway


@pytest.fixture
def stack(processes, migrated_postgres, redis_url):
    env = production_env(
        DATABASE_URL=migrated_postgres,
        REDIS_URL=redis_url,
        WORKER_CONCURRENCY="1",
        REPORT_STALL_SECONDS="2",
        REPORT_SWEEP_EVERY_SECONDS="0.5",
        REPORT_MAX_ATTEMPTS="2",
        LOG_LEVEL="INFO",
    )
    seeded = run_command(f"flask --app blasto seed --sales {SALES}", env)
    assert seeded.returncode == 0, seeded.stderr
    base = processes.start_formation(env)
    processes["worker"].wait_for_output(r"ready", 30)
    return base, _admin_token(base, migrated_postgres)


def _admin_token(base: str, database_url: str) -> str:
    email, token = new_account(base, "admin", "Ada")
    engine = create_engine(database_uri(database_url, None))
    with engine.begin() as connection:
        connection.execute(text("UPDATE users SET is_admin = true WHERE email = :email"), {"email": email})
    engine.dispose()
    return token


class Reports:
    def __init__(self, base: str, token: str):
        self.base, self.session = base, requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def ask(self, days: int, ending: date | None = None) -> requests.Response:
        last = ending or date.today()
        return self.session.post(
            f"{self.base}/api/v1/reports",
            json={"from": (last - timedelta(days=days - 1)).isoformat(), "to": last.isoformat()},
            timeout=10,
        )

    def get(self, path: str) -> requests.Response:
        return self.session.get(urljoin(self.base, path), timeout=10)

    def status(self, location: str) -> dict:
        response = self.get(location)
        assert response.status_code == 200, response.text
        return response.json()

    def wait(self, location: str, predicate, timeout: float, what: str) -> dict:
        seen = {}

        def check():
            seen["last"] = self.status(location)
            return predicate(seen["last"])

        try:
            wait_for(check, timeout, interval=0.02, what=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the report's last status: {seen.get('last')}") from None
        return seen["last"]


def test_a_worker_killed_mid_build_is_retried_and_one_that_keeps_dying_ends_failed(stack, processes):
    reports = Reports(*stack)
    worker = processes["worker"]

    # Killed once: the sweep notices the silent heartbeat, queues it again, and the next build finishes.
    asked = reports.ask(365)
    assert asked.status_code == 202, asked.text
    location = asked.headers["Location"]
    midway = reports.wait(
        location, lambda s: s["state"] == "running" and s["progress"] >= 1, 60, "the build to be reading sales"
    )
    worker.kill()
    stuck = reports.status(location)
    assert stuck["state"] == "running" and midway["progress"] <= stuck["progress"] < 100 and stuck["attempts"] == 1
    worker.start()
    done = reports.wait(location, lambda s: s["state"] in ("done", "failed"), 90, "the rebuilt report")
    assert (done["state"], done["progress"], done["attempts"]) == ("done", 100, 2), done
    assert done["summary"]["orders"] > 0
    chart = reports.get(done["files"]["chart"])
    assert (
        chart.status_code == 200
        and chart.headers["Content-Type"] == "image/png"
        and chart.content.startswith(b"\x89PNG")
    )
    books = reports.get(done["files"]["books_csv"])
    assert books.headers["Content-Type"].startswith("text/csv") and books.text.startswith(
        "rank,book_id,title,author,units,revenue_usd"
    )

    # Killed at every attempt (REPORT_MAX_ATTEMPTS=2): it ends failed with a reason, not stuck at some percent.
    asked = reports.ask(300)
    location = asked.headers["Location"]
    for attempt in (1, 2):
        reports.wait(
            location, lambda s: s["state"] == "running" and s["attempts"] == attempt, 60, f"attempt {attempt} running"
        )
        worker.kill()
        worker.start()
    failed = reports.wait(location, lambda s: s["state"] in ("failed", "done"), 60, "the report to give up")
    assert failed["state"] == "failed" and failed["attempts"] == 2, failed
    assert "stopped while building this report 2 times" in failed["error"]
    assert failed["files"] == {}


def test_the_same_report_asked_for_six_times_at_once_is_built_once(stack):
    reports = Reports(*stack)
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: reports.ask(90), range(6)))
    assert {answer.status_code for answer in answers} == {202}
    locations = {answer.headers["Location"] for answer in answers}
    assert len(locations) == 1, locations
    assert sorted(answer.headers.get("Report-Reused", "") for answer in answers) == [""] + ["true"] * 5
    done = reports.wait(locations.pop(), lambda s: s["state"] == "done", 60, "the shared report")
    assert done["attempts"] == 1
