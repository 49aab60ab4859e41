"""Shoppers' dates are UTC <time> elements a static script rewrites to local time; counts carry separators."""

from __future__ import annotations

import re

from blasto.web.templating import number
from tests.support.factories import make_book, make_purchase


def test_order_pages_write_utc_times_the_script_can_localise(shop_app, shopper):
    browser, user_id = shopper
    book = make_book(shop_app, "Emma", stock=5)
    purchase = make_purchase(shop_app, user_id, {book: 1})
    for path in (f"/purchases/{purchase}", "/purchases"):
        page = browser.get(path)
        times = re.findall(r'<time datetime="([^"]+)" data-local>([^<]+)</time>', page.html)
        assert times, page.html[:500]
        for stamp, text in times:
            assert stamp.endswith("+00:00") and text.endswith(" UTC")  # readable without JavaScript
        assert re.search(r'<script src="/static/js/local-times\.[0-9a-f]+\.js" defer></script>', page.html)
        assert "<script>" not in page.html  # no inline script: the CSP forbids it
    script = browser.client.get("/static/js/local-times.js")
    assert script.status_code == 200 and b"Intl.DateTimeFormat" in script.data
    script.close()


def test_counts_have_thousands_separators():
    assert [number(7), number(1234), number(1234567)] == ["7", "1,234", "1,234,567"]
