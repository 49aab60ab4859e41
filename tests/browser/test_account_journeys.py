"""Accounts in a real browser, with the e-mails the worker sends through the Procfile stack to the SMTP sink.

A forgotten password reset from the e-mailed link (desktop), an e-mail
address changed from the link sent to the new address (phone), and the admin
dashboard on a desktop: every page axe-clean, and at 390 px none scrolls
sideways.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.shopping import (
    PASSWORD,
    PHONE,
    TIMEOUT_MS,
    flash,
    log_in,
    make_admin,
    new_email,
    sideways_scroll,
    sign_up,
)
from tests.support.axe import axe_violations
from tests.support.processes import wait_for

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a different long passphrase"
LINK = re.compile(r"https?://\S+")


def mailed_link(stack, recipient: str, subject: str, path: str) -> str:
    """The link to `path` in the e-mail with `subject` that the worker sent to `recipient`."""

    def sent():
        return [m for m in stack.sink.for_recipient(recipient) if m.subject and subject in m.subject]

    (message,) = wait_for(sent, 30, what=f"the {subject!r} e-mail to {recipient} at the SMTP sink")
    body = message.message.get_body(preferencelist=("plain",)).get_content()
    links = [link for link in LINK.findall(body) if path in link]
    assert links, f"no {path} link in:\n{body}"
    return links[0]


def clean(page: Page, width: int | None = None) -> None:
    assert axe_violations(page) == []
    if width is not None:
        assert sideways_scroll(page, width) == []


def test_a_forgotten_password_is_reset_from_the_e_mailed_link(new_page, stack):
    page = new_page(viewport={"width": 1280, "height": 900})
    email = new_email("forgetful")
    sign_up(page, "Fay Forgetful", email)
    page.get_by_role("button", name="Log out").click()

    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reset your password", timeout=TIMEOUT_MS)
    clean(page)
    page.get_by_label("E-mail").fill(email)
    page.get_by_role("button", name="Send me a link").click()
    expect(flash(page)).to_contain_text("If an account uses that address", timeout=TIMEOUT_MS)

    page.goto(mailed_link(stack, email, "password", "/password-reset/new"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password", timeout=TIMEOUT_MS)
    clean(page)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change my password").click()
    expect(flash(page)).to_contain_text("Your password is changed and you are logged in", timeout=TIMEOUT_MS)
    expect(page.locator(".account__name")).to_have_text("Fay Forgetful", timeout=TIMEOUT_MS)

    page.get_by_role("button", name="Log out").click()
    log_in(page, email, NEW_PASSWORD)  # the new password works, and the old link is dead
    page.goto(mailed_link(stack, email, "password", "/password-reset/new"))
    expect(page.get_by_role("heading", level=1)).to_have_text("This link no longer works", timeout=TIMEOUT_MS)


def test_an_e_mail_change_is_confirmed_from_the_link_sent_to_the_new_address_on_a_phone(new_page, stack):
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    old, new = new_email("moving"), new_email("moved")
    sign_up(page, "Mo Mover", old)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").tap()
    expect(page.get_by_role("heading", level=1)).to_be_visible(timeout=TIMEOUT_MS)
    clean(page, PHONE["width"])
    change = page.get_by_role("region", name="E-mail address")
    change.get_by_label("New e-mail").fill(new)
    change.get_by_label("Current password").fill(PASSWORD)
    change.get_by_role("button", name="Change my e-mail").tap()
    expect(flash(page)).to_contain_text(f"We have sent a link to {new}", timeout=TIMEOUT_MS)

    page.goto(mailed_link(stack, new, "Confirm your new", "/account/email/confirm"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your new e-mail address", timeout=TIMEOUT_MS)
    clean(page, PHONE["width"])
    page.get_by_role("button", name="Use this address").tap()
    expect(flash(page)).to_contain_text(f"Your e-mail address is now {new}", timeout=TIMEOUT_MS)
    wait_for(
        lambda: [m for m in stack.sink.for_recipient(old) if m.subject and "was changed" in m.subject],
        30,
        what="the notice to the old address",
    )
    assert stack.scalar("SELECT email FROM users WHERE name = 'Mo Mover'") == new


def test_the_admin_dashboard_on_a_desktop_is_axe_clean_and_links_to_its_pages(new_page, stack):
    page = new_page(viewport={"width": 1280, "height": 900})
    log_in(page, make_admin(stack, "Dee Dashboard"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    expect(page).to_have_url(re.compile(r"/admin$"), timeout=TIMEOUT_MS)
    clean(page)
    menu = page.get_by_role("navigation", name="Admin")
    for section in ("Dashboard", "Books", "Orders", "Reports", "Outbox"):
        expect(menu.get_by_role("link", name=section)).to_be_visible(timeout=TIMEOUT_MS)
