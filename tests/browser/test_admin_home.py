"""An admin on a phone goes from the shop to the admin home and through every admin page by its menu."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.shopping import PASSWORD, TIMEOUT_MS, horizontal_overflow, log_in, new_email, unlabelled_controls

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
SECTIONS = {
    "Dashboard": "Dashboard",
    "Books": "Catalogue",
    "Orders": "Purchases",
    "Reports": "Sales reports",
    "Outbox": "Outbox",
}


def test_an_admin_on_a_phone_reaches_every_admin_page_from_the_shop_without_sideways_scroll(new_page, stack):
    email = new_email("admin-home")
    stack.check_flask("create-admin", email, "--name", "Ada Admin", input=f"{PASSWORD}\n{PASSWORD}\n")
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    log_in(page, email)
    page.goto("/home")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    expect(page).to_have_url(re.compile(r"/admin$"), timeout=TIMEOUT_MS)
    problems: dict[str, list[str]] = {}
    for label, heading in SECTIONS.items():
        page.get_by_role("navigation", name="Admin").get_by_role("link", name=label, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading, timeout=TIMEOUT_MS)
        current = page.get_by_role("navigation", name="Admin").locator('[aria-current="page"]')
        expect(current).to_have_text(label, timeout=TIMEOUT_MS)
        found = [f"unlabelled: {control}" for control in unlabelled_controls(page)]
        overflow = horizontal_overflow(page)
        if overflow["scrollWidth"] > overflow["innerWidth"]:
            found.append(f"scrolls sideways: {overflow['scrollWidth']}px of content in {overflow['innerWidth']}px")
            found += [f"  sticks out: {offender}" for offender in overflow["offenders"]]
        if found:
            problems[label] = found
    assert not problems, problems
