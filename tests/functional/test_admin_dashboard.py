"""The admin home at /admin: sales against the week before, the work waiting, each figure a link to its rows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import text

from blasto.core.extensions import db
from blasto.models import Report
from blasto.models.outbox import FAILED, SENT
from blasto.outbox.backlog import emails_needing_a_person
from blasto.reports.dashboard import Sales, dashboard
from tests.functional.test_markup import check_markup
from tests.support.factories import (
    ADMIN,
    make_admin,
    make_book,
    make_purchase,
    make_user,
    owe_lost_email,
    record_move,
    set_hidden,
    set_purchase_time,
)
from tests.support.form_browser import Browser, Page, log_in
from tests.support.sql import query_plans

# A Wednesday afternoon: today is since 00:00, this week since Monday the 12th.
NOW = datetime(2026, 1, 14, 15, 0, tzinfo=UTC)


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def order(app, user: int, book: int, dollars: int, status: str, placed: datetime, paid: datetime | None = None) -> int:
    """An order of `dollars` copies of a $1.00 book, placed then, with a `paid` history row if `paid` is given."""
    purchase_id = make_purchase(app, user, {book: dollars}, status=status)
    set_purchase_time(app, purchase_id, placed)
    if paid is not None:
        record_move(app, purchase_id, "paid", paid)
    return purchase_id


@pytest.fixture
def week(shop_app) -> dict:
    user = make_user(shop_app, email="reader@example.com")
    dollar = make_book(shop_app, "A Dollar Book", price_cents=100)
    ids = {
        # Counted today and this week.
        "placed_paid_today": order(shop_app, user, dollar, 10, "paid", utc(2026, 1, 14, 10)),
        "paid_today_placed_sunday": order(
            shop_app, user, dollar, 40, "paid", utc(2026, 1, 11, 9), paid=utc(2026, 1, 14, 9)
        ),
        # This week, not today.
        "shipped_monday": order(shop_app, user, dollar, 20, "shipped", utc(2026, 1, 12, 9)),
        # Not sales: unpaid, cancelled, refunded (paid today, then the money went back), or after `now`.
        "awaiting": order(shop_app, user, dollar, 100, "awaiting_payment", utc(2026, 1, 14, 11)),
        "cancelled": order(shop_app, user, dollar, 100, "cancelled", utc(2026, 1, 14, 11)),
        "refunded": order(shop_app, user, dollar, 100, "refunded", utc(2026, 1, 14, 8), paid=utc(2026, 1, 14, 8)),
        "after_now": order(shop_app, user, dollar, 100, "paid", utc(2026, 1, 14, 15, 30)),
        # The week before: Wednesday the 7th before 15:00 is "the same time last week".
        "last_wednesday_14h": order(shop_app, user, dollar, 5, "shipped", utc(2026, 1, 7, 14)),
        "last_wednesday_paid_10h": order(
            shop_app, user, dollar, 2, "shipped", utc(2026, 1, 1, 12), paid=utc(2026, 1, 7, 10)
        ),
        "last_wednesday_16h": order(shop_app, user, dollar, 7, "paid", utc(2026, 1, 7, 16)),
        "last_monday": order(shop_app, user, dollar, 3, "shipped", utc(2026, 1, 5, 8)),
        "two_weeks_ago": order(shop_app, user, dollar, 1, "shipped", utc(2026, 1, 4, 23, 59)),
    }
    return ids


def test_sales_today_and_this_week_count_paid_orders_by_when_they_were_paid(shop_app, week):
    with shop_app.app_context():
        board = dashboard(NOW)
    assert (board.today.span.start, board.today.span.end) == (utc(2026, 1, 14), NOW)
    assert (board.this_week.span.start, board.this_week.span.end) == (utc(2026, 1, 12), NOW)
    assert board.today.sales == Sales(orders=2, revenue_cents=5000)
    assert board.today.week_before == Sales(orders=2, revenue_cents=700)
    assert board.this_week.sales == Sales(orders=3, revenue_cents=7000)
    assert board.this_week.week_before == Sales(orders=3, revenue_cents=1000)


def test_the_work_waiting_counts_orders_books_emails_and_finds_the_last_report(shop_app, week):
    books = {stock: make_book(shop_app, f"Stock {stock}", stock=stock) for stock in (0, 2, 3, 10)}
    set_hidden(shop_app, make_book(shop_app, "Hidden and low", stock=1))
    owe_lost_email(shop_app, 7200, state=FAILED, key="welcome:1")
    owe_lost_email(shop_app, 7200, key="welcome:2")  # pending for two hours: stuck
    owe_lost_email(shop_app, 60, key="welcome:3")  # pending for a minute: on its way
    owe_lost_email(shop_app, 7200, state=SENT, key="welcome:4")
    with shop_app.app_context():
        db.session.add_all(
            [
                Report(date_from=utc(2026, 1, 1).date(), date_to=utc(2026, 1, 7).date(), state="done"),
                Report(date_from=utc(2026, 1, 8).date(), date_to=utc(2026, 1, 9).date(), state="running"),
                Report(date_from=utc(2026, 1, 1).date(), date_to=utc(2026, 1, 2).date(), expires_at=utc(2026, 1, 2)),
            ]
        )
        db.session.commit()
        board = dashboard(NOW)
        emails = emails_needing_a_person(datetime.now(UTC))
    assert board.to_ship == 4  # paid: the two today, the one after now, last Wednesday's at 16:00
    assert board.awaiting_payment == 1
    assert board.low_stock == 2, books  # 0 and 2 copies; 3 is not under 3; the hidden book is not for sale
    assert emails == (1, 1)
    assert board.last_report is not None and board.last_report.state == "running"  # the expired one is gone


def figure(page: Page, figure_id: str) -> str:
    match = re.search(rf'<li class="figure[^"]*" id="{figure_id}">(.*?)</li>', page.html, re.S)
    assert match, figure_id
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match[1])).strip()


def link_of(page: Page, figure_id: str) -> str:
    match = re.search(rf'<li class="figure[^"]*" id="{figure_id}">.*?href="([^"]+)"', page.html, re.S)
    assert match, figure_id
    return match[1].replace("&amp;", "&")


def listed(page: Page, kind: str) -> set[int]:
    return {int(n) for n in re.findall(rf'<tr id="{kind}-(\d+)"', page.html)}


def test_each_figure_links_to_a_list_of_exactly_its_rows(shop_app, admin):
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date(), time.min, tzinfo=UTC)
    user = make_user(shop_app, email="reader@example.com")
    dollar = make_book(shop_app, "A Dollar Book", price_cents=100, stock=50)
    today = {
        order(shop_app, user, dollar, 1234, "paid", midnight),
        order(shop_app, user, dollar, 1, "shipped", midnight - timedelta(days=3), paid=midnight),
    }
    paid_earlier = order(shop_app, user, dollar, 2, "paid", midnight - timedelta(days=8))
    awaiting = {order(shop_app, user, dollar, 3, "awaiting_payment", midnight)}
    order(shop_app, user, dollar, 4, "cancelled", midnight)
    low = {make_book(shop_app, "Almost gone", stock=2), make_book(shop_app, "Gone", stock=0)}
    set_hidden(shop_app, make_book(shop_app, "Hidden", stock=0))
    owe_lost_email(shop_app, 7200, state=FAILED, key="welcome:1")
    owe_lost_email(shop_app, 7200, key="welcome:2")
    owe_lost_email(shop_app, 60, key="welcome:3")

    page = admin.get("/admin")
    assert page.status == 200
    assert figure(page, "today").startswith("Today $1,235.00 2 orders Same time last week: $0.00, 0 orders")
    assert figure(page, "to-ship") == "Orders to ship 2 paid orders not yet shipped"
    assert figure(page, "awaiting-payment").startswith("Orders awaiting payment 1 ")
    assert figure(page, "low-stock").startswith("Books low on stock 2 ")
    assert figure(page, "failed-emails").startswith("Failed e-mails 1 ")
    assert figure(page, "stuck-emails").startswith("E-mails stuck 1 ")
    check_markup(page)

    assert listed(admin.get(link_of(page, "today")), "purchase") == today
    assert listed(admin.get(link_of(page, "to-ship")), "purchase") == {min(today), paid_earlier}
    assert listed(admin.get(link_of(page, "awaiting-payment")), "purchase") == awaiting
    low_page = admin.get(link_of(page, "low-stock"))
    assert listed(low_page, "book") == low
    assert 'id="filter-low-stock" name="low_stock" value="1" checked' in low_page.html  # the filter keeps its value
    failed = admin.get(link_of(page, "failed-emails"))
    stuck = admin.get(link_of(page, "stuck-emails"))
    with shop_app.app_context():
        keys = dict(db.session.execute(text("SELECT key, id FROM outbox_messages")).all())
    assert listed(failed, "outbox") == {keys["welcome:1"]}
    assert listed(stuck, "outbox") == {keys["welcome:2"]}
    assert listed(admin.get("/admin/outbox?state=pending"), "outbox") == {keys["welcome:2"], keys["welcome:3"]}


def test_the_last_report_links_to_its_page(shop_app, admin):
    assert "No report yet." in admin.get("/admin").text
    with shop_app.app_context():
        report = Report(date_from=utc(2026, 1, 1).date(), date_to=utc(2026, 1, 7).date(), state="queued")
        db.session.add(report)
        db.session.commit()
        report_id = report.id
    page = admin.get("/admin")
    assert f'href="/admin/reports/{report_id}"' in page.html
    assert f"Report {report_id}: 2026-01-01 to 2026-01-07" in page.text and "queued (0%)" in page.text


def test_the_paid_day_filters_keep_their_values_and_refuse_a_reversed_range(shop_app, admin, week):
    page = admin.get("/admin/purchases?paid_from=2026-01-12&paid_to=2026-01-14")
    assert page.status == 200
    assert re.search(r'<input[^>]*id="filter-paid-from"[^>]*value="2026-01-12"', page.html)
    assert re.search(r'<input[^>]*id="filter-paid-to"[^>]*value="2026-01-14"', page.html)
    this_week = {
        week[name] for name in ("placed_paid_today", "paid_today_placed_sunday", "shipped_monday", "after_now")
    }
    assert listed(page, "purchase") == this_week
    assert listed(admin.get("/admin/purchases?paid_from=2026-01-12"), "purchase") == this_week
    assert listed(admin.get("/admin/purchases?paid_to=2026-01-04"), "purchase") == {week["two_weeks_ago"]}
    assert listed(admin.get("/admin/purchases?paid_to=9999-12-31&state=shipped"), "purchase") == {
        week[name]
        for name in ("shipped_monday", "last_wednesday_14h", "last_wednesday_paid_10h", "last_monday", "two_weeks_ago")
    }
    reversed_range = admin.get("/admin/purchases?paid_from=2026-01-14&paid_to=2026-01-12")
    assert reversed_range.status == 400
    assert "The last day comes before the first" in reversed_range.text
    assert admin.get("/admin/purchases?paid_from=junk").status == 400


def test_visitors_are_sent_to_log_in_and_shoppers_get_a_404(shop_app, browser):
    response = browser.client.get("/admin")
    assert response.status_code in (302, 303) and response.headers["Location"].startswith("/login")
    make_user(shop_app, email="shopper@example.com")
    log_in(browser, "shopper@example.com")
    assert browser.client.get("/admin").status_code == 404
    assert browser.client.get("/admin/books").status_code == 404  # as every other admin page answers


def header(page: Page) -> str:
    return page.html[page.html.index("<header") : page.html.index("</header>")]


def test_admin_pages_have_their_own_menu_and_the_shop_menu_one_admin_link(shop_app, admin):
    for path, current in (
        ("/admin", "Dashboard"),
        ("/admin/books", "Books"),
        ("/admin/purchases", "Orders"),
        ("/admin/reports", "Reports"),
        ("/admin/outbox", "Outbox"),
    ):
        top = header(admin.get(path))
        assert 'aria-label="Admin"' in top and 'aria-label="Main"' not in top, path
        assert re.findall(r'<a href="(/admin[^"]*)"', top) == [
            "/admin",
            "/admin/books",
            "/admin/purchases",
            "/admin/reports",
            "/admin/outbox",
        ], path
        assert re.findall(r'aria-current="page">([^<]+)<', top) == [current], path
        assert "/static/css/admin." in admin.get(path).html
    shop_top = header(admin.get("/"))
    assert re.findall(r'<a href="(/admin[^"]*)"', shop_top) == ["/admin"]
    assert ">Admin</a>" in shop_top
    assert "/static/css/admin." not in admin.get("/").html


def test_shoppers_see_no_admin_link(shop_app, shopper):
    browser, _ = shopper
    assert "/admin" not in header(browser.get("/"))


@pytest.mark.slow  # a large data set, or a real Celery worker: out of `--fast`
def test_every_figure_is_an_index_scan_over_a_hundred_thousand_orders(pg_app):
    """The plans, not timings: 100,000 orders over three years, made by one INSERT ... SELECT each."""
    with pg_app.app_context():
        db.session.execute(
            text("""
            INSERT INTO users (email, name, password_hash, is_admin, created_at)
              SELECT 'user' || n || '@example.com', 'User ' || n, 'x', false, now() FROM generate_series(1, 1000) n;
            INSERT INTO products (title, author, description, price_cents, stock, created_at, hidden)
              SELECT 'Book ' || n, 'Author', '', 100 + n, CASE WHEN n % 500 = 0 THEN 1 ELSE 100 END, now(), n % 7 = 0
              FROM generate_series(1, 20000) n;
            -- One order every ~15 minutes back from now: the newest few hundred paid or awaiting payment,
            -- a few cancelled or refunded, the rest shipped long ago.
            INSERT INTO purchases (user_id, created_at, total_cents, status)
              SELECT 1 + (n % 1000), now() - (n * 15 || ' minutes')::interval, 100 + (n % 10000),
                     CASE WHEN n <= 150 THEN 'paid' WHEN n <= 300 THEN 'awaiting_payment'
                          WHEN n % 50 = 0 THEN 'cancelled' WHEN n % 77 = 0 THEN 'refunded' ELSE 'shipped' END
              FROM generate_series(1, 100000) n;
            INSERT INTO purchase_events (purchase_id, at, from_status, to_status, cause)
              SELECT id, created_at + interval '1 hour', 'awaiting_payment', 'paid', 'provider'
              FROM purchases WHERE status <> 'awaiting_payment' AND id % 2 = 0;
            INSERT INTO outbox_messages (key, kind, state, recipient, link, created_at, next_attempt_at, attempts)
              SELECT 'receipt:' || id, 'receipt', CASE WHEN id % 5000 = 0 THEN 'failed' ELSE 'sent' END,
                     'buyer@example.com', '', created_at, created_at, 1
              FROM purchases;
            -- A report a day for years, all but the newest expired (the sweep deletes them; some wait for it).
            INSERT INTO reports (date_from, date_to, state, progress, attempts, created_at, heartbeat_at, expires_at)
              SELECT current_date - n, current_date - n, 'done', 100, 1, now() - (n || ' days')::interval, now(),
                     CASE WHEN n > 1 THEN now() - ((n - 1) || ' days')::interval END
              FROM generate_series(1, 2000) n;
            ANALYZE;
        """)
        )
        db.session.commit()
        now = datetime.now(UTC)
        with query_plans(pg_app) as plans:
            board = dashboard(now)
            emails = emails_needing_a_person(now)
    assert board.to_ship == 150 and board.awaiting_payment == 150
    assert board.low_stock == len([n for n in range(1, 20001) if n % 500 == 0 and n % 7])
    assert emails[0] == 20
    assert board.this_week.sales.orders > 0 and board.today.week_before.orders > 0
    assert board.last_report is not None and board.last_report.date_from == (now - timedelta(days=1)).date()
    assert len(plans) == 7, [statement for statement, _ in plans]
    for statement, plan in plans:
        assert "Seq Scan" not in plan, f"{statement}\n{plan}"
        assert "Index" in plan, f"{statement}\n{plan}"
    every_plan = "\n".join(plan for _, plan in plans)
    for index in (
        "ix_purchase_events_to_status_at",
        "ix_purchases_status_created_at_id",
        "ix_products_stock",
        "ix_outbox_messages_pending_due",
        "ix_reports_expires_at",
    ):
        assert index in every_plan, index


def test_the_admin_home_is_at_slash_admin_without_a_trailing_slash(shop_app):
    rules = [rule.rule for rule in shop_app.url_map.iter_rules() if rule.endpoint == "admin.home"]
    assert rules == ["/admin"]


@pytest.fixture
def pg_admin(pg_app) -> Browser:
    make_admin(pg_app, ADMIN)
    browser = Browser(pg_app.test_client())
    log_in(browser, ADMIN)
    return browser


def test_the_dashboard_answers_on_postgres(pg_app, pg_admin):
    page = pg_admin.get("/admin")
    assert page.status == 200 and "Dashboard" in page.text
