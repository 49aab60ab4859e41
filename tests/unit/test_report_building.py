"""Building a report in process, on real SQLite and real Postgres.

The sales are rows the test wrote line by line, so every total is checked
against an independent sum; progress is read back from the database on a
connection of its own, as the status page would see it; the queue is the test
app's embedded broker, read straight from its file. Only the chunk size and,
where a test needs a failure or a rival at a precise moment, one function are
patched.
"""

from __future__ import annotations

import csv
import io
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from flask import current_app
from sqlalchemy import select, update

import blasto.reports.tasks  # noqa: F401  (registers the build and sweep tasks on the Celery app)
from blasto.core.extensions import db
from blasto.models import Product, Purchase, PurchaseItem, Report, User
from blasto.models.base import utcnow
from blasto.models.report import DONE, FAILED, QUEUED, RUNNING
from blasto.reports import building, rendering
from blasto.reports.asking import BUILD_TASK
from blasto.reports.building import build
from blasto.reports.files import file_response, status
from blasto.reports.sweeping import sweep_reports
from blasto.shop.money import CURRENCY

UTC = UTC
FIRST, LAST = date(2024, 3, 1), date(2024, 3, 10)
EMPTY_DAYS = (date(2024, 3, 4), date(2024, 3, 7))
SWEEP_TASK = "blasto.reports.sweep"
REVENUE = f"revenue_{CURRENCY.lower()}"


# -- fixtures (shared, in tests/support/report_databases.py) and helpers -------

from tests.support.report_databases import PNG_MAGIC, queued_builds  # noqa: E402


def new_report(first: date = FIRST, last: date = LAST, **values) -> int:
    report = Report(date_from=first, date_to=last, **values)
    db.session.add(report)
    db.session.commit()
    return report.id


def row(report_id: int) -> dict | None:
    """Every column as the database has it now, read on a connection of its own."""
    with db.engine.connect() as connection:
        found = connection.execute(select(Report.__table__).where(Report.id == report_id)).mappings().first()
    return None if found is None else dict(found)


def rival_writes(report_id: int, **values) -> None:
    """Another process (the sweep, another worker) changes the row, on its own connection."""
    with db.engine.begin() as connection:
        connection.execute(update(Report).where(Report.id == report_id).values(**values))


class Sales:
    """Books, a buyer and purchases whose every line the test remembers."""

    def __init__(self):
        buyer = User(email="buyer@example.com", name="Bea Buyer", password_hash="!unusable")
        db.session.add(buyer)
        db.session.commit()
        self.buyer = buyer.id
        self.books: dict[int, tuple[str, str]] = {}
        self.lines: list[tuple[int, datetime, int, int, int]] = []  # purchase, when, book, quantity, unit price

    def book(self, title: str, author: str = "Ann Author", price_cents: int = 1000) -> int:
        product = Product(title=title, author=author, description="A book.", price_cents=price_cents, stock=3)
        db.session.add(product)
        db.session.commit()
        self.books[product.id] = (title, author)
        return product.id

    def purchase(self, when: datetime, lines: list[tuple[int, int, int]], status: str = "paid") -> int:
        """A purchase at `when` with (book, quantity, unit price) lines; stock and prices untouched."""
        purchase = Purchase(
            user_id=self.buyer,
            created_at=when,
            status=status,
            total_cents=sum(q * p for _, q, p in lines),
            items=[
                PurchaseItem(product_id=book, quantity=quantity, unit_price_cents=price)
                for book, quantity, price in lines
            ],
        )
        db.session.add(purchase)
        db.session.flush()  # the caller commits
        self.lines.extend((purchase.id, when, book, quantity, price) for book, quantity, price in lines)
        return purchase.id

    def expected(self, first: date, last: date):
        """Per day [orders, units, revenue] for every day, per book [units, revenue], computed apart from the app."""
        days = {first + timedelta(days=n): [set(), 0, 0] for n in range((last - first).days + 1)}
        books = defaultdict(lambda: [0, 0])
        for purchase, when, book, quantity, price in self.lines:
            day = when.astimezone(UTC).date()
            if day not in days:
                continue
            days[day][0].add(purchase)
            days[day][1] += quantity
            days[day][2] += quantity * price
            books[book][0] += quantity
            books[book][1] += quantity * price
        return {day: [len(orders), units, revenue] for day, (orders, units, revenue) in days.items()}, dict(books)


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def spreadsheet_safe(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@pytest.fixture
def sales(reports_app) -> Sales:
    """A shop with edge-of-range purchases, formula-like titles, ties in the ranking and random bulk."""
    shop = Sales()
    formula = shop.book('=HYPERLINK("http://evil.example","click")', author="@Mallory", price_cents=999)
    plus = shop.book("+44 Recipes", author="-Anon", price_cents=1500)
    minus = shop.book("-30 Degrees", price_cents=1250)
    at = shop.book("@home", price_cents=800)
    dollar = shop.book("$100 Startup: 50% off $ signs", price_cents=1700)
    long = shop.book("A Very Long Title That Goes On And On Well Beyond Forty Characters", price_cents=2100)
    pool = [shop.book(f"Pool book {n}", price_cents=500 + 100 * n) for n in range(8)]
    tie_units_more, tie_units_fewer = (
        shop.book("Tie A, more copies"),
        shop.book("Tie B, fewer copies", price_cents=1500),
    )
    tie_id_low, tie_id_high = (
        shop.book("Tie C, lower id", price_cents=1250),
        shop.book("Tie D, higher id", price_cents=1250),
    )
    outside_only = shop.book("Sold only outside the range")

    # The edges: the first instant is in, the instant after the last day is out.
    shop.purchase(datetime(2024, 3, 1, tzinfo=UTC), [(formula, 1, 999), (plus, 2, 1500)])
    shop.purchase(datetime(2024, 3, 10, 23, 59, 59, 999000, tzinfo=UTC), [(minus, 1, 1250), (at, 3, 800)])
    shop.purchase(datetime(2024, 3, 11, tzinfo=UTC), [(outside_only, 5, 1000), (formula, 9, 999)])
    shop.purchase(datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC), [(outside_only, 4, 1000)])
    # Other time zones count by their UTC day.
    shop.purchase(
        datetime(2024, 3, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))), [(outside_only, 1, 1000)]
    )  # Feb 29 UTC
    shop.purchase(
        datetime(2024, 3, 10, 23, 30, tzinfo=timezone(timedelta(hours=-5))), [(outside_only, 1, 1000)]
    )  # Mar 11 UTC
    shop.purchase(datetime(2024, 3, 6, 1, 0, tzinfo=timezone(timedelta(hours=3))), [(dollar, 20, 1700)])  # Mar 5 UTC
    # Several purchases at the very same instant: the keyset must not skip or repeat any.
    for _ in range(4):
        shop.purchase(datetime(2024, 3, 2, 12, tzinfo=UTC), [(long, 1, 2100), (pool[0], 1, 500), (pool[1], 2, 600)])
    # Equal revenue: more copies first; equal revenue and copies: lower id first.
    shop.purchase(datetime(2024, 3, 3, 9, tzinfo=UTC), [(tie_units_more, 3, 1000), (tie_units_fewer, 2, 1500)])
    shop.purchase(datetime(2024, 3, 8, 9, tzinfo=UTC), [(tie_id_high, 2, 1250), (tie_id_low, 2, 1250)])
    # Bulk, with unit prices that differ from today's catalogue price.
    rng = random.Random(1234)
    sale_days = [FIRST + timedelta(days=n) for n in range(-3, 13) if FIRST + timedelta(days=n) not in EMPTY_DAYS]
    for _ in range(30):
        day = rng.choice(sale_days)
        when = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
            seconds=rng.randrange(86_400), microseconds=rng.randrange(10**6)
        )
        books = rng.sample(pool, rng.randint(1, 4))
        shop.purchase(when, [(book, rng.randint(1, 3), rng.choice((499, 1000, 1999, 2550))) for book in books])
    db.session.commit()
    shop.ties = (tie_units_more, tie_units_fewer, tie_id_low, tie_id_high)
    shop.formula_books = (formula, plus, minus, at)
    shop.outside_only = outside_only
    shop.dollar, shop.long = dollar, long
    return shop


@pytest.fixture
def quick_chart(monkeypatch):
    """Tests about totals, progress and fencing skip drawing (the chart has tests of its own)."""
    monkeypatch.setattr(rendering, "chart_png", lambda *args: PNG_MAGIC + b"stub")


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def built(report_id: int) -> tuple[dict, list[list[str]], list[list[str]], bytes]:
    found = row(report_id)
    assert isinstance(found["chart_png"], bytes)
    return found["summary"], csv_rows(found["days_csv"]), csv_rows(found["books_csv"]), found["chart_png"]


def record_progress(monkeypatch) -> list[tuple[int, str]]:
    """(progress, state) of the row after each Progress.show, read on another connection as a poller would."""
    seen = []
    original = building.Progress.show

    def show(self, percent, force=False):
        original(self, percent, force)
        found = row(self.report_id)
        seen.append((found["progress"], found["state"]))

    monkeypatch.setattr(building.Progress, "show", show)
    return seen


# -- exact totals, files and chart ------------------------------------------------


def test_totals_per_day_and_per_book_are_exact(quick_chart, sales, monkeypatch):
    monkeypatch.setattr(building, "CHUNK_LINES", 5)  # many chunks, purchases split across them
    report_id = new_report()
    assert build(report_id) == DONE
    summary, days, books, _ = built(report_id)
    per_day, per_book = sales.expected(FIRST, LAST)

    assert summary["orders"] == sum(orders for orders, _, _ in per_day.values())
    assert summary["units"] == sum(units for _, units, _ in per_day.values()) == sum(u for u, _ in per_book.values())
    assert summary["revenue_cents"] == sum(revenue for _, _, revenue in per_day.values())
    assert summary["days"] == 10 and summary["from"] == "2024-03-01" and summary["to"] == "2024-03-10"
    assert summary["currency"] == CURRENCY
    best = max(per_day.items(), key=lambda item: (item[1][2], item[0]))
    assert summary["best_day"] == {"date": best[0].isoformat(), "revenue_cents": best[1][2]}

    # Both edges are in: the first instant of the range and the last millisecond of its last day.
    assert per_day[FIRST][0] >= 1 and per_day[LAST][0] >= 1
    assert days[0] == ["date", "orders", "units", REVENUE]
    assert days[1:] == [[day.isoformat(), str(o), str(u), money(r)] for day, (o, u, r) in sorted(per_day.items())]
    assert [r[0] for r in days[1:]] == [(FIRST + timedelta(days=n)).isoformat() for n in range(10)]
    for empty in EMPTY_DAYS:  # days without sales are listed, as zeros
        assert [empty.isoformat(), "0", "0", "0.00"] in days

    ranked = sorted(per_book.items(), key=lambda item: (-item[1][1], -item[1][0], item[0]))
    assert books[0] == ["rank", "book_id", "title", "author", "units", REVENUE]
    assert books[1:] == [
        [
            str(rank),
            str(book),
            spreadsheet_safe(sales.books[book][0]),
            spreadsheet_safe(sales.books[book][1]),
            str(units),
            money(revenue),
        ]
        for rank, (book, (units, revenue)) in enumerate(ranked, start=1)
    ]
    assert str(sales.outside_only) not in [r[1] for r in books[1:]]
    order = [int(r[1]) for r in books[1:]]
    more, fewer, low, high = sales.ties
    assert order.index(more) < order.index(fewer) and order.index(low) < order.index(high)

    assert [book["book_id"] for book in summary["top_books"]] == [book for book, _ in ranked[:10]]
    first_top = summary["top_books"][0]
    assert (
        first_top["rank"] == 1 and first_top["title"] == sales.books[ranked[0][0]][0]
    )  # the page escapes; no defusing there
    assert (first_top["units"], first_top["revenue_cents"]) == tuple(ranked[0][1])


def test_formula_like_titles_and_authors_are_defused_in_the_csv(quick_chart, sales):
    report_id = new_report()
    assert build(report_id) == DONE
    _, _, books, _ = built(report_id)
    cells = {int(r[1]): (r[2], r[3]) for r in books[1:]}
    formula, plus, minus, at = sales.formula_books
    assert cells[formula] == ("'" + sales.books[formula][0], "'@Mallory")
    assert cells[plus] == ("'+44 Recipes", "'-Anon")
    assert cells[minus][0] == "'-30 Degrees" and cells[at][0] == "'@home"
    for title, _ in cells.values():
        assert title[:1] not in ("=", "+", "-", "@")
    assert "Ann Author" in {author for _, author in cells.values()}  # ordinary text is left alone


def test_the_chart_is_a_real_png_of_1000_by_800(sales):
    from matplotlib import image as mpimg
    from PIL import Image

    report_id = new_report()
    assert build(report_id) == DONE
    summary, _, _, chart = built(report_id)
    assert sales.books[sales.dollar][0] in [
        book["title"] for book in summary["top_books"]
    ]  # "$...$" drawn as text, not TeX
    assert sales.books[sales.long][0] in [book["title"] for book in summary["top_books"]]  # shortened on the chart
    assert chart.startswith(PNG_MAGIC)
    with Image.open(io.BytesIO(chart)) as picture:
        assert picture.format == "PNG" and picture.size == (1000, 800)
        picture.verify()
    assert mpimg.imread(io.BytesIO(chart), format="png").shape[:2] == (800, 1000)

    # Served as stored, from either database.
    with current_app.test_request_context():
        served = file_response(report_id, "chart.png")
        days = file_response(report_id, "days.csv")
    assert served.mimetype == "image/png" and served.get_data() == chart
    assert days.mimetype == "text/csv" and days.get_data(as_text=True) == row(report_id)["days_csv"]


def test_a_long_range_without_sales_builds_zeros_and_an_empty_chart(reports_app):
    from PIL import Image

    first, last = date(2019, 1, 1), date(2019, 4, 30)  # more than 62 days: the area chart
    report_id = new_report(first, last)
    assert build(report_id) == DONE
    summary, days, books, chart = built(report_id)
    assert (summary["orders"], summary["units"], summary["revenue_cents"]) == (0, 0, 0)
    assert summary["best_day"] is None and summary["top_books"] == []
    assert len(days) == 1 + 120 and all(r[1:] == ["0", "0", "0.00"] for r in days[1:])
    assert books == [["rank", "book_id", "title", "author", "units", REVENUE]]
    with Image.open(io.BytesIO(chart)) as picture:
        assert picture.size == (1000, 800)


# -- progress, repeats ------------------------------------------------------------------


def test_progress_climbs_in_steps_that_a_poller_sees_and_ends_at_100(quick_chart, sales, monkeypatch):
    monkeypatch.setattr(building, "CHUNK_LINES", 4)
    seen = record_progress(monkeypatch)
    report_id = new_report()
    before = utcnow()
    assert build(report_id) == DONE

    values = [progress for progress, _ in seen]
    assert {state for _, state in seen} == {RUNNING}
    assert values == sorted(values), values
    assert values[0] >= 1 and values[-1] == 99
    assert len({v for v in values if 1 < v < building.READ_SHARE}) >= 5, values  # real steps while reading
    assert building.READ_SHARE in values

    done = row(report_id)
    assert (done["state"], done["progress"], done["attempts"], done["error"]) == (DONE, 100, 1, None)
    assert before <= done["started_at"] <= done["finished_at"] <= utcnow()
    ttl = timedelta(seconds=current_app.config["REPORT_TTL_SECONDS"])
    assert abs(done["expires_at"] - (done["finished_at"] + ttl)) < timedelta(seconds=1)


def test_a_second_build_of_the_same_report_is_skipped(quick_chart, reports_app, tmp_path, monkeypatch):
    report_id = new_report()
    assert build(report_id) == DONE
    first = row(report_id)
    assert build(report_id) == "skipped"
    assert row(report_id) == first
    assert build(report_id + 1000) == "skipped"  # unknown
    celery = reports_app.extensions["celery"]
    assert celery.tasks[BUILD_TASK].apply(args=[report_id]).get() == "skipped"  # a redelivered message
    assert celery.tasks[BUILD_TASK].apply(args=["1; drop"]).get() == "malformed"
    assert celery.tasks[BUILD_TASK].apply(args=[True]).get() == "malformed"
    assert queued_builds(tmp_path) == []


# -- fencing ---------------------------------------------------------------------------


RIVALS = {
    "the sweep requeued it": dict(state=QUEUED, progress=0),
    "another worker claimed it": dict(attempts=2, state=RUNNING, progress=0),
    "the sweep failed it": dict(
        state=FAILED, progress=0, error="The worker stopped while building this report 3 times; ask for it again."
    ),
}


@pytest.mark.parametrize("rival", list(RIVALS))
def test_a_build_whose_row_moved_on_mid_read_stops_and_writes_nothing(quick_chart, sales, tmp_path, monkeypatch, rival):
    monkeypatch.setattr(building, "CHUNK_LINES", 4)
    report_id = new_report()
    calls = []
    original = building.Progress.show

    def show(self, percent, force=False):
        calls.append(percent)
        if len(calls) == 3:
            rival_writes(report_id, heartbeat_at=utcnow(), **RIVALS[rival])
        original(self, percent, force)

    monkeypatch.setattr(building.Progress, "show", show)
    assert build(report_id) == "abandoned"
    assert len(calls) == 3  # it stopped at the first write after the row moved on
    after = row(report_id)
    for name, value in RIVALS[rival].items():
        assert after[name] == value
    assert (after["summary"], after["days_csv"], after["books_csv"], after["chart_png"]) == (None, None, None, None)
    assert after["finished_at"] is None and after["expires_at"] is None
    assert queued_builds(tmp_path) == []  # the abandoned build queues nothing either


def test_a_build_whose_row_moved_on_while_rendering_does_not_store_its_results(
    quick_chart, sales, tmp_path, monkeypatch
):
    report_id = new_report()
    original = building.render

    def render(span, totals, progress):
        results = original(span, totals, progress)
        rival_writes(report_id, state=QUEUED, progress=0, heartbeat_at=utcnow())  # the sweep, just before finish
        return results

    monkeypatch.setattr(building, "render", render)
    assert build(report_id) == "abandoned"
    after = row(report_id)
    assert (after["state"], after["progress"], after["summary"], after["chart_png"]) == (QUEUED, 0, None, None)

    monkeypatch.setattr(building, "render", original)
    assert build(report_id) == DONE  # the requeued build is the one that counts
    assert (row(report_id)["attempts"], row(report_id)["progress"]) == (2, 100)


# -- errors: retried, then failed -------------------------------------------------------------


def test_an_error_requeues_the_build_then_fails_it_with_a_readable_reason(database, make_app, tmp_path, monkeypatch):
    make_app(database, REPORT_MAX_ATTEMPTS=2)

    def broken(*args):
        raise RuntimeError("the plotter broke")

    monkeypatch.setattr(rendering, "chart_png", broken)
    report_id = new_report()

    assert build(report_id) == QUEUED
    retried = row(report_id)
    assert (retried["state"], retried["progress"], retried["attempts"]) == (QUEUED, 0, 1)
    assert retried["error"] == "RuntimeError: the plotter broke"
    assert retried["summary"] is None and retried["expires_at"] is None
    (queued,) = queued_builds(tmp_path)
    assert queued[0] == report_id and queued[1] is not None  # queued again, after a short delay

    assert build(report_id) == FAILED
    failed = row(report_id)
    assert (failed["state"], failed["attempts"]) == (FAILED, 2)
    assert failed["error"] == "The build failed 2 times; the last error was RuntimeError: the plotter broke"
    assert failed["finished_at"] is not None and failed["expires_at"] > failed["finished_at"]
    assert failed["summary"] is None and failed["chart_png"] is None
    assert len(queued_builds(tmp_path)) == 1  # no retry after the last attempt
    assert build(report_id) == "skipped"

    shown = status(db.session.get(Report, report_id), lambda name: f"/files/{name}")
    assert shown["state"] == FAILED and "the plotter broke" in shown["error"] and shown["files"] == {}


def test_an_error_while_reading_is_retried_too(reports_app, tmp_path, monkeypatch):
    shop = Sales()
    shop.purchase(datetime(2024, 3, 2, tzinfo=UTC), [(shop.book("Emma"), 1, 100)])
    db.session.commit()

    def broken(self, *args):
        raise ValueError("a line nobody expected")

    monkeypatch.setattr(building.Totals, "add", broken)
    report_id = new_report()
    assert build(report_id) == QUEUED
    assert row(report_id)["error"] == "ValueError: a line nobody expected"
    assert [report for report, _ in queued_builds(tmp_path)] == [report_id]


# -- the sweep -------------------------------------------------------------------------------


def test_the_sweep_requeues_stalled_and_lost_builds_fails_hopeless_ones_and_deletes_expired(reports_app):
    now = utcnow()
    old, recent = now - timedelta(seconds=600), now - timedelta(seconds=5)
    day = iter(date(2024, 1, 1) + timedelta(days=n) for n in range(100))  # one in-flight report per range

    def report(**values):
        first = next(day)
        return new_report(first, first, **values)

    stalled = report(state=RUNNING, attempts=1, progress=40, heartbeat_at=old)
    hopeless = report(state=RUNNING, attempts=3, progress=70, heartbeat_at=old)
    lost = report(state=QUEUED, attempts=0, heartbeat_at=old)
    fresh = report(state=RUNNING, attempts=1, progress=30, heartbeat_at=recent)
    waiting = report(state=QUEUED, heartbeat_at=recent)
    expired_done = report(state=DONE, progress=100, expires_at=now - timedelta(seconds=1))
    expired_failed = report(state=FAILED, expires_at=now - timedelta(seconds=1))
    kept = report(state=DONE, progress=100, heartbeat_at=old, expires_at=now + timedelta(hours=1))
    untouched = {key: row(key) for key in (fresh, waiting, kept)}

    outcome = sweep_reports(60, 3)
    assert sorted(outcome["requeued"]) == sorted([stalled, lost])
    assert outcome["failed"] == [hopeless]
    assert sorted(outcome["expired"]) == sorted([expired_done, expired_failed])

    requeued = row(stalled)
    assert (requeued["state"], requeued["progress"], requeued["attempts"]) == (QUEUED, 0, 1)
    gave_up = row(hopeless)
    assert gave_up["state"] == FAILED and gave_up["attempts"] == 3
    assert gave_up["error"] == "The worker stopped while building this report 3 times; ask for it again."
    assert gave_up["finished_at"] is not None and gave_up["expires_at"] > utcnow()
    assert row(lost)["state"] == QUEUED and row(lost)["heartbeat_at"] > old
    assert row(expired_done) is None and row(expired_failed) is None
    assert {key: row(key) for key in untouched} == untouched

    # Stamped: an immediate second sweep finds nothing to do.
    assert sweep_reports(60, 3) == {"requeued": [], "failed": [], "expired": []}


def test_the_sweep_task_queues_a_build_for_each_requeued_report_which_then_builds(
    quick_chart, reports_app, tmp_path, monkeypatch
):
    old = utcnow() - timedelta(seconds=600)
    stalled = new_report(state=RUNNING, attempts=1, progress=55, heartbeat_at=old)
    lost = new_report(date(2024, 2, 1), date(2024, 2, 2), heartbeat_at=old)
    sweep = reports_app.extensions["celery"].tasks[SWEEP_TASK]

    assert sweep.apply().get() == {"requeued": 2, "failed": 0, "expired": 0}
    assert sorted(report for report, _ in queued_builds(tmp_path)) == sorted([stalled, lost])
    assert sweep.apply().get() == {"requeued": 0, "failed": 0, "expired": 0}
    assert len(queued_builds(tmp_path)) == 2

    assert build(stalled) == DONE
    assert (row(stalled)["attempts"], row(stalled)["state"]) == (2, DONE)
