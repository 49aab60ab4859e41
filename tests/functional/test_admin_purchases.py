"""Admins list every shopper's purchases, filter them through the GET form, and read one."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from sqlalchemy import text

from blasto.core.extensions import db
from tests.functional.test_markup import check_markup
from tests.support.factories import (
    ADMIN,
    make_admin,
    make_book,
    make_purchase,
    make_user,
    owe_receipt_row,
    set_hidden,
    set_purchase_time,
)
from tests.support.form_browser import Browser, Page, log_in
from tests.support.sql import recorded_statements


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.fixture
def shop(shop_app) -> dict:
    """Two customers, three books, four purchases on days around midnight UTC."""
    alice = make_user(shop_app, email="alice@example.com", name="Alice Liddell")
    bob = make_user(shop_app, email="bob@example.com", name="Bob Builder")
    emma = make_book(shop_app, "Emma", price_cents=1199)
    dracula = make_book(shop_app, "Dracula", author="Bram Stoker", price_cents=899)
    room = make_book(
        shop_app, f"Room {dracula}", author="Emma Donoghue", price_cents=1000
    )  # a title holding Dracula's id
    rows = {
        "p1": (alice, {emma: 1}, utc(2026, 1, 10, 0, 0, 0)),  # $11.99
        "p2": (bob, {dracula: 2}, utc(2026, 1, 10, 23, 59, 59)),  # $17.98
        "p3": (alice, {emma: 1, dracula: 1}, utc(2026, 1, 11, 0, 0, 0)),  # $20.98
        "p4": (bob, {room: 1}, utc(2026, 1, 12, 12, 0, 0)),  # $10.00
    }
    ids = {}
    for name, (user, lines, when) in rows.items():
        ids[name] = make_purchase(shop_app, user, lines)
        set_purchase_time(shop_app, ids[name], when)
    owe_receipt_row(shop_app, ids["p1"], "failed", "SMTP 550 5.1.1 mailbox unavailable")
    owe_receipt_row(shop_app, ids["p2"], "pending")
    owe_receipt_row(shop_app, ids["p3"], "sent")
    return {**ids, "emma": emma, "dracula": dracula, "room": room, "alice": alice}


def listed(page: Page) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="purchase-(\d+)">', page.html)]


def row_text(page: Page, purchase_id: int) -> str:
    match = re.search(rf'<tr id="purchase-{purchase_id}">(.*?)</tr>', page.html, re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match[1])).strip()


def field_error(page: Page, field_id: str) -> str:
    match = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">([^<]*)</p>', page.html)
    return match[1] if match else ""


def filtered(browser: Browser, **params) -> Page:
    """The filter form as a person would send it: every field, most of them blank."""
    form = browser.get("/admin/purchases").form("/admin/purchases")
    assert form.method == "get"
    return browser.get("/admin/purchases?" + urlencode(form.data(params)))


def test_everyones_purchases_newest_first_with_their_receipts(shop_app, admin, shop):
    page = admin.get("/admin/purchases")
    assert page.status == 200
    assert listed(page) == [shop["p4"], shop["p3"], shop["p2"], shop["p1"]]
    assert "4 purchases." in page.text
    assert (
        row_text(page, shop["p3"])
        == f"#{shop['p3']} 11 Jan 2026, 00:00 UTC alice@example.com none given 2 (2 titles) $20.98 Paid sent"
    )
    assert row_text(page, shop["p2"]).endswith("bob@example.com none given 2 $17.98 Paid pending")
    assert row_text(page, shop["p1"]).endswith("$11.99 Paid failed")
    assert row_text(page, shop["p4"]).endswith("$10.00 Paid none owed")
    assert f'href="/admin/purchases/{shop["p3"]}"' in page.html
    check_markup(page)


FILTERS = [
    ({"date_from": "2026-01-11"}, ["p4", "p3"]),
    ({"date_to": "2026-01-10"}, ["p2", "p1"]),  # 23:59:59 on the last day is included
    ({"date_from": "2026-01-10", "date_to": "2026-01-10"}, ["p2", "p1"]),
    ({"date_from": "2026-01-11", "date_to": "2026-01-11"}, ["p3"]),
    ({"date_from": "2026-01-13"}, []),
    ({"date_to": "9999-12-31"}, ["p4", "p3", "p2", "p1"]),
    ({"email": "ALICE"}, ["p3", "p1"]),
    ({"email": "b@EXAMPLE"}, ["p4", "p2"]),
    ({"email": "example.com"}, ["p4", "p3", "p2", "p1"]),
    ({"email": "%"}, []),  # typed literally, not a wildcard
    ({"book": "emm"}, ["p3", "p1"]),  # titles only: Emma Donoghue's book is not matched by author
    ({"book": "DRAC"}, ["p3", "p2"]),
    ({"book": "#{dracula}"}, ["p3", "p2"]),
    ({"book": "{dracula}"}, ["p4", "p3", "p2"]),  # the id, and "Room <id>" by title
    ({"book": "#99999"}, []),
    ({"book": "#99999999999"}, []),
    ({"min_total": "17.98"}, ["p3", "p2"]),
    ({"max_total": "11.99"}, ["p4", "p1"]),
    ({"min_total": "11", "max_total": "$18"}, ["p2", "p1"]),
    ({"email": "bob", "min_total": "15"}, ["p2"]),
    ({"email": "alice", "book": "dracula", "date_from": "2026-01-11", "max_total": "25"}, ["p3"]),
]


@pytest.mark.parametrize(("params", "expected"), FILTERS, ids=[urlencode(p) for p, _ in FILTERS])
def test_each_filter_narrows_the_list(shop_app, admin, shop, params, expected):
    params = {key: value.format(**shop) for key, value in params.items()}
    page = filtered(admin, **params)
    assert page.status == 200, page.text
    assert listed(page) == [shop[name] for name in expected]
    assert f"{len(expected)} {'purchase' if len(expected) == 1 else 'purchases'} match these filters." in page.text
    form = page.form("/admin/purchases")
    assert all(form.value(key) == value for key, value in params.items())  # the form keeps what was typed
    check_markup(page)


def test_pages_keep_the_filters(shop_app, admin, shop):
    for n in range(30):
        make_purchase(shop_app, shop["alice"], {shop["emma"]: 1}, age_days=n / 10)
    page = filtered(admin, email="alice")
    assert len(listed(page)) == 25 and "Page 1 of 2" in page.text
    next_link = re.search(r'rel="next" href="([^"]+)"', page.html)[1].replace("&amp;", "&")
    assert "email=alice" in next_link and "page=2" in next_link
    second = admin.get(next_link)
    assert len(listed(second)) == 7 and shop["p1"] in listed(second)
    assert admin.get(next_link.replace("page=2", "page=3")).status == 404
    assert admin.get("/admin/purchases?page=0").status == 404


BAD_FILTERS = [
    ({"date_from": "junk"}, "filter-from", "Enter a date as YYYY-MM-DD."),
    ({"date_from": "2026-02-30"}, "filter-from", "Enter a date as YYYY-MM-DD."),
    ({"date_to": "2026-13-01"}, "filter-to", "Enter a date as YYYY-MM-DD."),
    ({"date_to": "10/01/2026"}, "filter-to", "Enter a date as YYYY-MM-DD."),
    ({"date_from": "2026-01-12", "date_to": "2026-01-10"}, "filter-to", "The last day comes before the first"),
    ({"min_total": "-1"}, "filter-min", "Enter an amount of $0.00 or more."),
    ({"max_total": "lots"}, "filter-max", "Enter an amount in dollars, like 12.99."),
    ({"min_total": "1.234"}, "filter-min", "Enter at most two decimal places"),
    ({"max_total": "99999999999"}, "filter-max", "Enter an amount from $0.00 to $20,000,000.00."),
    ({"min_total": "20", "max_total": "10"}, "filter-max", "The maximum is below the minimum."),
    ({"email": "x" * 300}, "filter-email", "Use at most 254 characters."),
    ({"email": "bob\x00"}, "filter-email", "Remove the control characters"),
    ({"book": "b" * 201}, "filter-book", "Use at most 200 characters."),
    ({"book": "\x00"}, "filter-book", "Remove the control characters"),
]


@pytest.mark.parametrize(
    ("params", "field_id", "message"), BAD_FILTERS, ids=[f"{i}-{f}" for i, (_, f, _) in enumerate(BAD_FILTERS)]
)
@pytest.mark.sweep
def test_bad_filters_get_a_clear_error_next_to_the_field(shop_app, admin, shop, params, field_id, message):
    page = filtered(admin, **params)
    assert page.status == 400
    assert message in field_error(page, field_id), page.text
    assert listed(page) == [] and "Please correct the" in page.text
    check_markup(page)


def test_the_purchase_page_has_the_bill_the_customer_and_the_receipt(shop_app, admin, shop):
    page = admin.get(f"/admin/purchases/{shop['p3']}")
    assert page.status == 200
    assert (
        f"Alice Liddell, alice@example.com (account #{shop['alice']})" in page.text
        and "Sent to buyer@example.com" in page.text
    )
    assert re.search(r"Emma .*\$11\.99 1 \$11\.99", page.text) and re.search(r"Dracula .*\$8\.99 1 \$8\.99", page.text)
    assert "Total $20.98" in page.text
    check_markup(page)
    failed = admin.get(f"/admin/purchases/{shop['p1']}")
    assert "Failed for buyer@example.com after 1 attempt: SMTP 550 5.1.1 mailbox unavailable" in failed.text
    assert 'href="/admin/outbox?state=failed"' in failed.html
    assert "None owed" in admin.get(f"/admin/purchases/{shop['p4']}").text
    assert admin.get("/admin/purchases/999999").status == 404
    assert admin.get("/admin/purchases/99999999999").status == 404


def test_purchases_of_a_hidden_book_stay_listed_and_readable(shop_app, admin, shop):
    set_hidden(shop_app, shop["dracula"])
    assert listed(filtered(admin, book="dracula")) == [shop["p3"], shop["p2"]]
    page = admin.get(f"/admin/purchases/{shop['p2']}")
    assert "Dracula" in page.text and "Hidden" in page.text and "$17.98" in page.text


def test_a_page_is_one_query_however_many_rows(shop_app, admin, shop):
    def queries_for(url: str) -> list[str]:
        with recorded_statements(shop_app) as statements:
            assert admin.get(url).status == 200
        return [s for s in statements if "purchase" in s.lower()]

    few = queries_for("/admin/purchases")
    for _n in range(20):
        make_purchase(shop_app, shop["alice"], {shop["emma"]: 1, shop["dracula"]: 1})
    many = queries_for("/admin/purchases?book=emma&min_total=1")
    assert len(few) == len(many) == 1, many


def test_visitors_are_sent_to_log_in(shop_app, browser, shop):
    for path in ("/admin/purchases", f"/admin/purchases/{shop['p1']}", "/admin/purchases?email=a"):
        response = browser.client.get(path)
        assert response.status_code in (302, 303) and response.headers["Location"].startswith("/login"), path


def test_shoppers_get_404s(shop_app, shopper, shop):
    browser, _ = shopper
    for path in (
        "/admin/purchases",
        f"/admin/purchases/{shop['p1']}",
        "/admin/purchases?email=a",
        "/admin/purchases?date_from=junk",
    ):
        assert browser.client.get(path).status_code == 404, path


@pytest.mark.slow  # a large data set, or a real Celery worker: out of `--fast`
def test_a_hundred_thousand_purchases_on_postgres(pg_app):
    """The newest page is a backward index scan, and every filter answers quickly."""
    make_admin(pg_app, ADMIN)
    with pg_app.app_context():
        db.session.execute(
            text("""
            INSERT INTO users (email, name, password_hash, is_admin, created_at)
              SELECT 'user' || n || '@example.com', 'User ' || n, 'x', false, now() FROM generate_series(1, 1000) n;
            INSERT INTO products (title, author, description, price_cents, stock, created_at, hidden)
              SELECT 'Book ' || n, 'Author', '', 100 + n, 100, now(), false FROM generate_series(1, 300) n;
            INSERT INTO purchases (user_id, created_at, total_cents, status)
              SELECT 2 + (n % 1000), now() - (n || ' minutes')::interval, 100 + (n % 10000), 'paid' FROM generate_series(1, 100000) n;
            INSERT INTO purchase_items (purchase_id, product_id, quantity, unit_price_cents)
              SELECT id, 1 + (id % 300), 1, total_cents FROM purchases;
            ANALYZE;
        """)
        )
        db.session.commit()
        plan = "\n".join(
            row[0]
            for row in db.session.execute(
                text("EXPLAIN SELECT id FROM purchases ORDER BY created_at DESC, id DESC LIMIT 25")
            )
        )
    assert "ix_purchases_created_at_id" in plan, plan
    browser = Browser(pg_app.test_client())
    log_in(browser, ADMIN)
    today = datetime.now(UTC).date().isoformat()
    for query in (
        "",
        "page=2000",
        f"date_from={today}&date_to={today}",
        f"paid_from={today}&paid_to={today}",
        "email=user17%40",
        "book=Book+12",
        "book=%2342",
        "min_total=50&max_total=51",
        "email=nobody",
    ):
        started = time.monotonic()
        page = browser.get(f"/admin/purchases?{query}")
        elapsed = time.monotonic() - started
        assert page.status == 200, query
        assert elapsed < 2.0, f"{query}: {elapsed:.2f}s"
    assert "100,000 purchases." in browser.get("/admin/purchases").text
