"""A sold-out book's page on a phone: "Tell me when it is back", its cancel, no sideways scroll, axe finds nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from tests.browser.shopping import PHONE, TIMEOUT_MS, flash, new_email, sideways_scroll, sign_up
from tests.support.axe import axe_violations

pytestmark = pytest.mark.browser

PHONE_CONTEXT = {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def sold_out_book(stack, title: str) -> int:
    with stack.engine.begin() as connection:
        return connection.execute(
            text(
                "INSERT INTO products (title, author, description, price_cents, stock, created_at, hidden) "
                "VALUES (:title, 'Ann Author', 'A book everyone wants.', 1299, 0, now(), false) RETURNING id"
            ),
            {"title": title},
        ).scalar_one()


def test_a_shopper_asks_for_and_cancels_the_back_in_stock_e_mail_on_a_phone(new_page, stack):
    page = new_page(**PHONE_CONTEXT)
    book = sold_out_book(stack, "The Long-Awaited Reprint")
    problems: dict[str, list[str]] = {}

    def look(name: str) -> None:
        found = sideways_scroll(page, PHONE["width"]) + [f"axe: {line}" for line in axe_violations(page)]
        if found:
            problems[name] = found

    page.goto(f"/books/{book}")
    wish = page.locator("#restock-wish")
    expect(wish).to_contain_text("Log in and we will e-mail you when it is back.", timeout=TIMEOUT_MS)
    look("signed out")

    email = new_email("restock")
    sign_up(page, "Wren Waiting", email)
    page.goto(f"/books/{book}")
    page.get_by_role("button", name="Tell me when it is back").tap()
    expect(flash(page)).to_contain_text("We will e-mail you when it is back.", timeout=TIMEOUT_MS)
    expect(wish).to_contain_text("We will e-mail you when it is back.", timeout=TIMEOUT_MS)
    look("waiting")
    waiting = "SELECT count(*) FROM restock_wishes w JOIN users u ON u.id = w.user_id WHERE u.email = :email"
    assert stack.scalar(waiting, email=email) == 1

    page.get_by_role("button", name="Do not e-mail me").tap()
    expect(flash(page)).to_contain_text("You will not get an e-mail about this book.", timeout=TIMEOUT_MS)
    expect(page.get_by_role("button", name="Tell me when it is back")).to_be_visible(timeout=TIMEOUT_MS)
    assert stack.scalar(waiting, email=email) == 0
    assert not problems, problems
