"""Admins ask for sales reports through the real form, watch them and download them; no one else sees them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from sqlalchemy import select, update

from blasto.core.extensions import db
from blasto.models import Purchase, PurchaseItem, Report
from blasto.models.base import utcnow
from blasto.models.report import DONE, FAILED, QUEUED
from blasto.reports.building import build
from blasto.reports.ranges import MAX_DAYS
from tests.support.factories import make_book, make_user
from tests.support.form_browser import Page
from tests.support.report_databases import PNG_MAGIC, queued_builds, sqlite_copy

FROM, TO = "2024-03-01", "2024-03-31"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def db_app(app_factory, sqlite_template, tmp_path):
    """The conftest's migrated SQLite app, from a copy of a file migrated once per session."""
    sqlite_copy(sqlite_template, tmp_path)
    return app_factory()


def ask(browser, first: str, last: str, follow_redirects: bool = True) -> Page:
    page = browser.get("/admin/reports")
    return browser.submit(page, "/admin/reports", {"first": first, "last": last}, follow_redirects=follow_redirects)


def reports(app) -> list[tuple[int, str]]:
    with app.app_context():
        return [tuple(r) for r in db.session.execute(select(Report.id, Report.state).order_by(Report.id))]


def set_report(app, report_id: int, **values) -> None:
    with app.app_context():
        db.session.execute(update(Report).where(Report.id == report_id).values(**values))
        db.session.commit()


def sell(app, user_id: int, book_id: int, quantity: int, price_cents: int, when: datetime) -> None:
    with app.app_context():
        db.session.add(
            Purchase(
                user_id=user_id,
                created_at=when,
                status="paid",
                total_cents=quantity * price_cents,
                items=[PurchaseItem(product_id=book_id, quantity=quantity, unit_price_cents=price_cents)],
            )
        )
        db.session.commit()


# -- the form ------------------------------------------------------------------------------


def test_the_reports_page_has_a_labelled_form(shop_app, admin):
    page = admin.get("/admin/reports")
    assert page.status == 200
    form = page.form("/admin/reports")
    assert form.method == "post" and form.value("csrf_token")
    dates = {control["id"]: control for control in form.inputs if control.get("id") in ("report-from", "report-to")}
    assert set(dates) == {"report-from", "report-to"}
    assert all(control["type"] == "date" for control in dates.values())
    assert {"report-from", "report-to"} <= page.labels_for
    assert "Build report" in page.text and "No reports yet." in page.text


@pytest.mark.parametrize(
    ("first", "last", "errors"),
    [
        (
            "",
            "",
            {"report-from": "Choose the first day of the report.", "report-to": "Choose the last day of the report."},
        ),
        (FROM, "", {"report-to": "Choose the last day of the report."}),
        ("", TO, {"report-from": "Choose the first day of the report."}),
        ("   ", TO, {"report-from": "Choose the first day of the report."}),
        ("2024-03-02", "2024-03-01", {"report-to": "is before the first"}),
        (
            "2020-01-01",
            (date(2020, 1, 1) + timedelta(days=MAX_DAYS)).isoformat(),
            {"report-to": f"at most {MAX_DAYS} days"},
        ),
        ("0001-01-01", "0001-01-31", {"report-from": "1970-01-01 or later"}),
        ("2024-13-45", TO, {"report-from": "Enter a date as YYYY-MM-DD."}),
        ("yesterday", TO, {"report-from": "Enter a date as YYYY-MM-DD."}),
        (FROM, "31/03/2024", {"report-to": "Enter a date as YYYY-MM-DD."}),
        ("2999-01-01", "2999-01-02", {"report-from": "starts in the future"}),
    ],
)
@pytest.mark.sweep
def test_bad_ranges_are_shown_next_to_their_field_and_create_nothing(shop_app, admin, tmp_path, first, last, errors):
    page = ask(admin, first, last)
    assert page.status in (200, 422)
    for field_id, words in errors.items():
        assert f'id="{field_id}-error"' in page.html, page.html
        error_text = page.html.split(f'id="{field_id}-error">', 1)[1].split("</p>", 1)[0]
        assert words in error_text.replace("&#39;", "'")
        assert f"{field_id}-error" in page.described_by
        control = next(c for c in page.controls if c.get("id") == field_id)
        assert control.get("aria-invalid") == "true"
    for field_id in {"report-from", "report-to"} - set(errors):
        assert f'id="{field_id}-error"' not in page.html
    typed = {c["id"]: c.get("value", "") for c in page.controls if c.get("id") in ("report-from", "report-to")}
    if first.strip() and "report-from" in errors and "YYYY" in errors["report-from"]:
        assert typed["report-from"] == first  # what was typed is still there to correct
    assert page.form("/admin/reports").value("csrf_token")  # a fresh form to try again
    assert reports(shop_app) == [] and queued_builds(tmp_path) == []


# -- asking and watching ---------------------------------------------------------------------


def test_a_valid_range_redirects_to_the_report_which_shows_its_progress(shop_app, admin, tmp_path):
    response = admin.client.post(
        "/admin/reports", data=admin.get("/admin/reports").form("/admin/reports").data({"first": FROM, "last": TO})
    )
    assert response.status_code == 303
    ((report_id, state),) = reports(shop_app)
    assert state == QUEUED
    assert urlsplit(response.headers["Location"]).path == f"/admin/reports/{report_id}"
    assert [queued for queued, _ in queued_builds(tmp_path)] == [report_id]

    page = admin.get(f"/admin/reports/{report_id}")
    assert page.status == 200
    assert f"{FROM} to {TO}" in page.text
    progress = page.html.split("<progress", 1)[1].split(">", 1)[0]
    assert 'id="report-progress"' in progress and 'max="100"' in progress and 'value="0"' in progress
    assert "report-progress" in page.labels_for
    assert '<strong id="report-state">queued</strong>' in page.html
    assert (
        "js/report-progress." in page.html and 'http-equiv="refresh"' in page.html
    )  # follows the build, script or not
    assert 'id="report-chart"' not in page.html and not page.has_form(f"/admin/reports/{report_id}/again")

    listing = admin.get("/admin/reports")
    assert f"Report {report_id}" in listing.text and "queued (0%)" in listing.text


def test_asking_twice_gives_the_same_report_with_a_message(shop_app, admin, tmp_path):
    first = ask(admin, FROM, TO)
    second = ask(admin, FROM, TO)
    assert "already being built" not in first.text
    assert "A report for these days is already being built; here it is." in second.text
    assert len(reports(shop_app)) == 1 and len(queued_builds(tmp_path)) == 1
    assert second.html.count('id="report-progress"') == 1


def test_the_status_endpoint_answers_json_for_the_script(shop_app, admin):
    ask(admin, FROM, TO)
    ((report_id, _),) = reports(shop_app)
    response = admin.client.get(f"/admin/reports/{report_id}/status")
    assert response.status_code == 200 and response.is_json
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert (body["id"], body["state"], body["progress"], body["from"], body["to"]) == (report_id, QUEUED, 0, FROM, TO)
    assert body["files"] == {} and body["summary"] is None
    page = admin.get(f"/admin/reports/{report_id}")
    assert f'data-status-url="/admin/reports/{report_id}/status"' in page.html


def test_a_built_report_shows_its_chart_table_and_downloads(shop_app, admin):
    admin_id = make_user(shop_app, email="buyer@example.com")
    emma = make_book(shop_app, title="Emma", author="Jane Austen", price_cents=1199)
    sneaky = make_book(shop_app, title="<script>alert(1)</script>", author="Mallory", price_cents=500)
    sell(shop_app, admin_id, emma, 3, 1199, datetime(2024, 3, 5, 10, tzinfo=UTC))
    sell(shop_app, admin_id, sneaky, 1, 500, datetime(2024, 3, 6, 10, tzinfo=UTC))
    ask(admin, FROM, TO)
    ((report_id, _),) = reports(shop_app)
    with shop_app.app_context():
        assert build(report_id) == DONE

    page = admin.get(f"/admin/reports/{report_id}")
    assert '<strong id="report-state">done</strong>' in page.html and 'value="100"' in page.html
    assert "js/report-progress." not in page.html and 'http-equiv="refresh"' not in page.html
    assert "<script>alert(1)</script>" not in page.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.html
    top = page.html.split('class="report__top', 1)[1].split("</table>", 1)[0]
    assert top.index("Emma") < top.index("&lt;script&gt;")
    assert "$35.97" in top and "$5.00" in top
    assert page.has_form(f"/admin/reports/{report_id}/again")

    chart_src = f"/admin/reports/{report_id}/chart.png"  # still built for the API; the page draws its own SVG
    chart = admin.client.get(chart_src)
    assert chart.status_code == 200 and chart.mimetype == "image/png" and chart.data.startswith(PNG_MAGIC)
    for link_id, name, header in (("report-csv", "books.csv", "rank"), ("report-days-csv", "days.csv", "date")):
        assert f'id="{link_id}" href="/admin/reports/{report_id}/{name}"' in page.html
        download = admin.client.get(f"/admin/reports/{report_id}/{name}")
        assert download.status_code == 200 and download.mimetype == "text/csv"
        assert f'filename="blasto-report-{report_id}-{name}"' in download.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(download.get_data(as_text=True))))
        assert rows[0][0] == header and len(rows) > 1
    status = admin.client.get(f"/admin/reports/{report_id}/status").get_json()
    assert status["state"] == DONE and status["files"]["chart"] == chart_src


def test_a_built_report_draws_its_chart_inline_beside_a_table_of_the_same_figures(shop_app, admin):
    buyer = make_user(shop_app, email="buyer@example.com")
    emma = make_book(shop_app, title="Emma", author="Jane Austen", price_cents=1199)
    sell(shop_app, buyer, emma, 3, 1199, datetime(2024, 3, 5, 10, tzinfo=UTC))
    sell(shop_app, buyer, emma, 1, 1199, datetime(2024, 3, 5, 18, tzinfo=UTC))
    sell(shop_app, buyer, emma, 100, 1199, datetime(2024, 3, 30, 9, tzinfo=UTC))
    ask(admin, FROM, TO)
    ((report_id, _),) = reports(shop_app)
    with shop_app.app_context():
        assert build(report_id) == DONE

    page = admin.get(f"/admin/reports/{report_id}")
    assert "<img" not in page.html.split('class="report__chart"', 1)[1].split("</figure>", 1)[0]
    svg = ElementTree.fromstring(
        page.html[
            page.html.index("<svg xmlns") : page.html.index("</svg>", page.html.index("<svg xmlns")) + len("</svg>")
        ]
    )
    assert svg.get("id") == "report-chart" and svg.get("role") == "img" and svg.get("width") == "100%"
    assert svg.get("viewBox") and svg.get("aria-labelledby") == "report-chart-title"
    title = svg.find(f"{SVG}title")
    assert title is not None and title.get("id") == "report-chart-title"
    assert title.text == "Revenue per day, 2024-03-01 to 2024-03-31"
    description = svg.find(f"{SVG}desc")
    assert description is not None and "the best day was 2024-03-30 with $1,199.00" in (description.text or "")
    bars = svg.findall(f".//{SVG}rect[@class='report-chart__bar']")
    assert len(bars) == 31
    assert [bar.findtext(f"{SVG}title") for bar in bars][4] == "2024-03-05: $47.96"

    days = page.html.split('id="report-days"', 1)[1].split("</table>", 1)[0]
    assert "<caption" in days and '<th scope="col" class="num">Revenue</th>' in days
    assert days.count('<th scope="row">') == 31
    assert (
        '<th scope="row">2024-03-05</th><td class="num">2</td><td class="num">4</td><td class="num">$47.96</td>' in days
    )
    assert (
        '<th scope="row">2024-03-30</th><td class="num">1</td><td class="num">100</td>'
        '<td class="num">$1,199.00</td>' in days
    )
    assert (
        '<th scope="row">2024-03-06</th><td class="num">0</td><td class="num">0</td><td class="num">$0.00</td>' in days
    )


def test_a_built_report_without_sales_says_so_instead_of_drawing_an_empty_chart(shop_app, admin):
    ask(admin, FROM, TO)
    ((report_id, _),) = reports(shop_app)
    with shop_app.app_context():
        assert build(report_id) == DONE
    page = admin.get(f"/admin/reports/{report_id}")
    assert "<svg xmlns" not in page.html and "report-chart__bar" not in page.html
    assert '<p class="report__no-sales" id="report-chart">No sales in this range.</p>' in page.html


def test_files_are_404_before_the_report_is_done(shop_app, admin):
    ask(admin, FROM, TO)
    ((report_id, _),) = reports(shop_app)
    for name in ("chart.png", "days.csv", "books.csv"):
        assert admin.client.get(f"/admin/reports/{report_id}/{name}").status_code == 404


def test_a_failed_report_shows_its_error_and_can_be_tried_again(shop_app, admin, tmp_path):
    ask(admin, FROM, TO)
    ((report_id, _),) = reports(shop_app)
    set_report(
        shop_app,
        report_id,
        state=FAILED,
        attempts=3,
        error="The build failed 3 times; the last error was OSError: disk <full>",
    )
    page = admin.get(f"/admin/reports/{report_id}")
    assert '<strong id="report-state">failed</strong>' in page.html
    assert 'id="report-error"' in page.html and "the last error was OSError: disk &lt;full&gt;" in page.html
    form = page.form(f"/admin/reports/{report_id}/again")
    assert form.value("csrf_token") and "Try again" in page.text

    again = admin.submit(page, f"/admin/reports/{report_id}/again")
    assert reports(shop_app) == [(report_id, FAILED), (report_id + 1, QUEUED)]
    assert '<strong id="report-state">queued</strong>' in again.html and f"{FROM} to {TO}" in again.text
    assert [queued for queued, _ in queued_builds(tmp_path)] == [report_id, report_id + 1]


def test_a_done_report_can_be_built_again_with_todays_data(shop_app, admin):
    ask(admin, FROM, TO)
    ((report_id, _),) = reports(shop_app)
    set_report(
        shop_app,
        report_id,
        state=DONE,
        progress=100,
        summary={"orders": 0, "units": 0, "revenue_cents": 0, "best_day": None, "top_books": []},
        expires_at=utcnow() + timedelta(hours=1),
    )
    page = admin.get(f"/admin/reports/{report_id}")
    assert "Build again with today's data" in page.text.replace("&#39;", "'")
    admin.submit(page, f"/admin/reports/{report_id}/again")
    assert reports(shop_app) == [(report_id, DONE), (report_id + 1, QUEUED)]


def test_expired_and_unknown_reports_are_404(shop_app, admin):
    ask(admin, FROM, TO)
    ((report_id, _),) = reports(shop_app)
    set_report(shop_app, report_id, state=DONE, days_csv="date\r\n", expires_at=utcnow() - timedelta(seconds=1))
    listing = admin.get("/admin/reports")
    assert f"/admin/reports/{report_id}" not in listing.html and "No reports yet." in listing.text  # no link to a 404
    for path in (
        f"{report_id}",
        f"{report_id}/status",
        f"{report_id}/days.csv",
        f"{report_id + 1}",
        "0",
        "99999999999",
        "abc",
        f"{report_id}/other.csv",
    ):
        assert admin.client.get(f"/admin/reports/{path}").status_code == 404, path
    token = admin.get("/admin/reports").form("/admin/reports").value("csrf_token")
    assert admin.client.post(f"/admin/reports/{report_id}/again", data={"csrf_token": token}).status_code == 404
    assert len(reports(shop_app)) == 1


# -- who may -------------------------------------------------------------------------------------


def test_shoppers_get_404_on_every_report_url(shop_app, shopper):
    with shop_app.app_context():
        report = Report(
            date_from=date(2024, 3, 1),
            date_to=date(2024, 3, 31),
            state=DONE,
            progress=100,
            days_csv="date\r\n",
            chart_png=PNG_MAGIC,
        )
        db.session.add(report)
        db.session.commit()
        report_id = report.id
    browser, _ = shopper
    token = browser.get("/home").forms[0].value("csrf_token")  # a valid token of their own session (the logout form)
    assert token
    for path in (
        "",
        f"/{report_id}",
        f"/{report_id}/status",
        f"/{report_id}/chart.png",
        f"/{report_id}/days.csv",
        f"/{report_id}/books.csv",
    ):
        assert browser.client.get(f"/admin/reports{path}").status_code == 404, path
    assert (
        browser.client.post(
            "/admin/reports", data={"csrf_token": token, "first": FROM, "last": "2024-04-01"}
        ).status_code
        == 404
    )
    assert browser.client.post(f"/admin/reports/{report_id}/again", data={"csrf_token": token}).status_code == 404
    assert len(reports(shop_app)) == 1


def test_visitors_are_sent_to_log_in(shop_app):
    client = shop_app.test_client()
    for path in ("/admin/reports", "/admin/reports/1", "/admin/reports/1/status", "/admin/reports/1/chart.png"):
        response = client.get(path)
        assert response.status_code in (302, 303) and urlsplit(response.headers["Location"]).path == "/login", path
    assert reports(shop_app) == []


def test_posting_without_the_csrf_token_is_rejected_and_creates_nothing(shop_app, admin, tmp_path):
    # The reports page shows its own form: back to it ("Your session expired"), nothing asked.
    response = admin.client.post("/admin/reports", data={"first": FROM, "last": TO})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/reports"
    response = admin.client.post("/admin/reports", data={"first": FROM, "last": TO, "csrf_token": "forged"})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/reports"
    assert reports(shop_app) == [] and queued_builds(tmp_path) == []

    ask(admin, FROM, TO)
    ((report_id, _),) = reports(shop_app)
    set_report(shop_app, report_id, state=FAILED, error="x")
    assert admin.client.post(f"/admin/reports/{report_id}/again").status_code == 400
    assert reports(shop_app) == [(report_id, FAILED)]
