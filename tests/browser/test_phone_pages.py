"""Every page of the shop and of its admin, on a phone (390x844): no sideways scroll, and axe-core finds nothing.

A shopper's pages are seen with a cart and a placed order; the admin's with
that order in the list. A failure names every page at fault, and for a page
that scrolls sideways the element sticking out furthest first.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.shopping import (
    PHONE,
    TIMEOUT_MS,
    fill_address,
    flash,
    log_in,
    make_admin,
    new_email,
    sideways_scroll,
    sign_up,
)
from tests.support.axe import axe_violations

pytestmark = pytest.mark.browser

REPORT_TIMEOUT_MS = 60_000
PHONE_CONTEXT = {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


class PhoneCheck:
    """Looks at pages one by one and keeps what is wrong with each, to report them all at the end."""

    def __init__(self, page: Page, base: str):
        self.page, self.base = page, base
        self.problems: dict[str, list[str]] = {}
        self.seen: list[str] = []

    def look(self, name: str, path: str | None = None, status: int = 200) -> None:
        if path is not None:
            response = self.page.goto(path)
            assert response is not None and response.status == status, (
                f"{name}: {path} answered {response and response.status}, not {status}"
            )
        expect(self.page.get_by_role("heading", level=1)).to_be_visible(timeout=TIMEOUT_MS)
        where = f"{name} ({self.page.url.removeprefix(self.base)})"
        self.seen.append(where)
        found = sideways_scroll(self.page, PHONE["width"]) + [f"axe: {line}" for line in axe_violations(self.page)]
        if found:
            self.problems[where] = found

    def report(self) -> str:
        return f"at {PHONE['width']}x{PHONE['height']}:\n" + "\n".join(
            f"  {where}:\n" + "\n".join(f"    {line}" for line in found) for where, found in self.problems.items()
        )


def buy(page: Page, book_id: int, check: PhoneCheck | None = None) -> int:
    """One copy of a book through the cart and the checkout, by touch; returns the order's number."""
    page.goto(f"/books/{book_id}")
    page.get_by_role("button", name="Add to cart").tap()
    expect(flash(page)).to_contain_text("Added a copy of", timeout=TIMEOUT_MS)
    if check:
        check.look("cart with a line", "/cart")
    page.goto("/checkout")
    if check:
        check.look("checkout")
    fill_address(page)
    page.get_by_role("button", name=re.compile(r"^Place the order")).tap()
    expect(page).to_have_url(re.compile(r"/purchases/\d+$"), timeout=TIMEOUT_MS)
    return int(page.url.rsplit("/", 1)[1])


def build_report(page: Page) -> None:
    """The last 30 days' report, asked for by touch and followed until the worker has built it."""
    today = datetime.now(UTC).date()
    page.goto("/admin/reports")
    page.locator("input#report-from").fill((today - timedelta(days=29)).isoformat())
    page.locator("input#report-to").fill(today.isoformat())
    page.get_by_role("button", name="Build report").tap()
    expect(page.locator("#report-state")).to_have_text(re.compile(r"^\s*done\s*$"), timeout=REPORT_TIMEOUT_MS)
    expect(page.get_by_role("img", name=re.compile(r"^Revenue per day, "))).to_be_visible(timeout=TIMEOUT_MS)


def test_every_shopper_page_fits_a_phone_and_passes_axe(new_page, stack):
    page = new_page(**PHONE_CONTEXT)
    check = PhoneCheck(page, stack.base)
    book_id = stack.scalar("SELECT id FROM products WHERE title = 'Frankenstein'")
    genre = stack.scalar("SELECT genre FROM products WHERE title = 'Frankenstein'")

    check.look("home", "/home")
    check.look("catalogue with filters", f"/books?genre={genre}&sort=price&in_stock=1&min_price=1&max_price=60")
    check.look("search results", "/books?q=shelley")
    check.look("a book", f"/books/{book_id}")
    check.look("login", "/login")
    check.look("signup", "/signup")
    check.look("a page that is not there", "/books/987654321", status=404)
    check.look("API docs", "/api/v1/docs")

    sign_up(page, "Phone Reader", new_email("phone-pages"))
    buy(page, book_id, check)
    check.look("an order")
    check.look("purchases", "/purchases")
    check.look("account", "/account")
    check.look("deleting the account", "/account/delete")

    assert len(check.seen) == 14
    assert not check.problems, check.report()


def test_every_admin_page_fits_a_phone_and_passes_axe(new_page, stack):
    page = new_page(**PHONE_CONTEXT)
    check = PhoneCheck(page, stack.base)
    book_id = stack.scalar("SELECT id FROM products WHERE title = 'Frankenstein'")
    log_in(page, make_admin(stack, "Phone Admin"))
    order_id = buy(page, book_id)  # so the lists and the order page have an order to show

    check.look("admin books", "/admin/books")
    check.look("admin new book form", "/admin/books/new")
    check.look("admin book form", f"/admin/books/{book_id}/edit")
    check.look("admin purchases", "/admin/purchases")
    check.look("admin order", f"/admin/purchases/{order_id}")
    check.look("admin reports", "/admin/reports")
    check.look("admin outbox", "/admin/outbox")
    page.goto(f"/admin/purchases/{order_id}")
    page.get_by_role("button", name=re.compile(r"^Mark paid")).tap()  # a sale, so the report draws a bar
    expect(flash(page)).to_contain_text(f"Order #{order_id} is marked paid", timeout=TIMEOUT_MS)
    build_report(page)
    check.look("admin built report")

    assert len(check.seen) == 8
    assert not check.problems, check.report()


def test_the_axe_check_names_a_picture_without_alt_text_and_the_overflow_check_a_wide_box(new_page):
    """The two checks above can fail: each finds its fault on a page made to have it."""
    page = new_page(**PHONE_CONTEXT)
    page.set_content(
        '<!doctype html><html lang="en"><head><title>Faults</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        '<body><main><h1>Faults</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
        '<div class="too-wide" style="width:600px">wide</div></main></body></html>'
    )
    assert any(line.startswith("image-alt ") for line in axe_violations(page)), axe_violations(page)
    found = sideways_scroll(page, PHONE["width"])
    assert any("div.too-wide" in line for line in found), found
