"""The shop for people who use a keyboard, a screen reader or a phone.

(a) Sign up, log out, log in and fill the cart with the keyboard alone.
(b) Every control a person fills in has an accessible label, and axe-core finds
    no WCAG fault, on every main page (tests/browser/test_phone_pages.py: at 390 px).
(c) At 390x844 (a phone) no page scrolls sideways, and the navigation and the
    buying buttons are on screen and work: a whole purchase is made at that size.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.shopping import (
    PASSWORD,
    PHONE,
    TIMEOUT_MS,
    cart_count,
    cart_row,
    fill_address,
    flash,
    matches,
    new_email,
    search,
    sideways_scroll,
    sign_up,
    unlabelled_controls,
)
from tests.support.axe import axe_violations

pytestmark = pytest.mark.browser

MAX_TABS = 60


def tab_to(page: Page, target: Locator, max_presses: int = MAX_TABS) -> None:
    """Press Tab until `target` has the focus, as a keyboard user would."""
    target.wait_for(state="attached", timeout=TIMEOUT_MS)
    for _ in range(max_presses):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    focused = page.evaluate("() => document.activeElement && document.activeElement.outerHTML.slice(0, 120)")
    raise AssertionError(f"{target} never got the focus within {max_presses} Tab presses (focus is on {focused})")


def test_sign_up_log_in_and_fill_the_cart_with_the_keyboard_only(page, stack):
    name, email = "Kay Board", new_email("keyboard")
    page.goto("/home")

    # The first Tab reaches the skip link, shown when focused.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused(timeout=TIMEOUT_MS)
    expect(skip).to_be_in_viewport(timeout=TIMEOUT_MS)

    # Sign up.
    tab_to(page, page.get_by_role("link", name="Sign up"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Create your account", timeout=TIMEOUT_MS)
    tab_to(page, page.get_by_label("Name"))
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    expect(page.get_by_label("E-mail")).to_be_focused(timeout=TIMEOUT_MS)
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused(timeout=TIMEOUT_MS)
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(flash(page)).to_contain_text(f"Welcome to Blasto, {name}!", timeout=TIMEOUT_MS)

    # Log out, then log in again (ticking "keep me logged in" with the space bar).
    tab_to(page, page.get_by_role("button", name="Log out"))
    page.keyboard.press("Enter")
    expect(flash(page)).to_contain_text("You are logged out.", timeout=TIMEOUT_MS)
    tab_to(page, page.get_by_role("link", name="Log in", exact=True))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in", timeout=TIMEOUT_MS)
    tab_to(page, page.get_by_label("E-mail"))
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused(timeout=TIMEOUT_MS)
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    remember = page.get_by_label("Keep me logged in on this device")
    expect(remember).to_be_focused(timeout=TIMEOUT_MS)
    page.keyboard.press("Space")
    expect(remember).to_be_checked(timeout=TIMEOUT_MS)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Log in")).to_be_focused(timeout=TIMEOUT_MS)
    page.keyboard.press("Enter")
    expect(flash(page)).to_contain_text(f"Welcome back, {name}.", timeout=TIMEOUT_MS)

    # Skip the header, search from the front page's box.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused(timeout=TIMEOUT_MS)
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    search_box = page.get_by_label("Search by title or author")
    expect(search_box).to_be_focused(timeout=TIMEOUT_MS)
    page.keyboard.type("dickens")
    page.keyboard.press("Enter")
    expect(page.locator(".result-count")).to_have_text(matches(stack, "dickens"), timeout=TIMEOUT_MS)

    # Add a book from the results, then open the cart and change the quantity.
    tab_to(page, page.get_by_role("button", name="Add “Bleak House” to cart"))
    page.keyboard.press("Enter")
    expect(flash(page)).to_contain_text("Added a copy of “Bleak House” to your cart.", timeout=TIMEOUT_MS)
    expect(cart_count(page)).to_contain_text("(1", timeout=TIMEOUT_MS)
    tab_to(page, page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile(r"^Cart")))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your cart", timeout=TIMEOUT_MS)
    quantity = page.get_by_label("Quantity of “Bleak House”")
    tab_to(page, quantity)
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("2")
    page.keyboard.press("Enter")
    expect(flash(page)).to_contain_text("Your cart is updated.", timeout=TIMEOUT_MS)
    expect(page.get_by_label("Quantity of “Bleak House”")).to_have_value("2", timeout=TIMEOUT_MS)
    expect(cart_count(page)).to_contain_text("(2", timeout=TIMEOUT_MS)
    assert stack.scalar("SELECT count(*) FROM users WHERE email = :email", email=email) == 1


def test_every_control_on_the_main_pages_has_an_accessible_label_and_axe_finds_nothing_on_a_desktop(page, stack):
    book_id = stack.scalar("SELECT id FROM products WHERE title = 'Frankenstein'")
    missing: dict[str, list[str]] = {}

    def check(name: str, path: str | None = None) -> None:
        if path is not None:
            page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible(timeout=TIMEOUT_MS)
        found = unlabelled_controls(page) + [f"axe: {line}" for line in axe_violations(page)]
        if found:
            missing[f"{name} ({page.url.removeprefix(stack.base)})"] = found

    # As a visitor.
    check("home", "/home")
    check("catalog", "/books?q=shelley")
    check("book page", f"/books/{book_id}")
    check("login", "/login")
    check("signup", "/signup")
    check("password reset", "/password-reset")
    check("dead reset link", "/password-reset/new?token=expired")

    # As a shopper with a cart, then a purchase.
    sign_up(page, "Label Reader", new_email("labels"))
    page.goto(f"/books/{book_id}")
    page.get_by_role("button", name="Add to cart").click()
    expect(flash(page)).to_contain_text("Added a copy of “Frankenstein”", timeout=TIMEOUT_MS)
    expect(cart_row(page, "Frankenstein")).to_be_visible(timeout=TIMEOUT_MS)
    check("cart")
    check("checkout", "/checkout")
    fill_address(page)
    page.get_by_role("button", name=re.compile(r"^Place the order")).click()
    expect(page).to_have_url(re.compile(r"/purchases/\d+$"), timeout=TIMEOUT_MS)
    check("purchase page")
    check("purchase history", "/purchases")
    check("account", "/account")

    assert not missing, "controls without an accessible label, or axe-core's findings:\n" + "\n".join(
        f"  {where}: {control}" for where, controls in missing.items() for control in controls
    )


def on_screen(page: Page, locator: Locator, what: str) -> list[str]:
    """Problems with `locator` at phone size: hidden, or cut off at the side."""
    expect(locator).to_be_visible(timeout=TIMEOUT_MS)
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    if box is None or box["x"] < 0 or box["x"] + box["width"] > width + 0.5:
        return [f"{what} is not wholly on screen horizontally: {box}"]
    return []


def test_a_phone_sized_screen_has_no_sideways_scroll_and_a_purchase_works(new_page, stack):
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    book_id = stack.scalar("SELECT id FROM products WHERE title = 'Dracula'")
    problems: dict[str, list[str]] = {}

    def check(name: str, path: str | None = None) -> None:
        if path is not None:
            page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible(timeout=TIMEOUT_MS)
        found = sideways_scroll(page, PHONE["width"])
        nav = page.get_by_role("navigation", name="Main")
        for link in nav.get_by_role("link").all():
            found += on_screen(page, link, f"navigation link {link.inner_text()!r}")
        if found:
            problems[f"{name} ({page.url.removeprefix(stack.base)})"] = found

    check("home", "/home")
    check("login", "/login")
    check("signup", "/signup")
    check("password reset", "/password-reset")
    sign_up(page, "Phone Reader", new_email("phone"))

    # Search and add from the list, by touch.
    search(page, "stoker")
    check("catalog")
    add_button = page.get_by_role("button", name="Add “Dracula” to cart")
    problems.setdefault("catalog add-to-cart button", []).extend(on_screen(page, add_button, "Add to cart"))
    add_button.tap()
    expect(flash(page)).to_contain_text("Added a copy of “Dracula” to your cart.", timeout=TIMEOUT_MS)

    # The book's own page: one more copy.
    page.goto(f"/books/{book_id}")
    check("book page")
    add_button = page.get_by_role("button", name="Add to cart")
    problems.setdefault("book page add-to-cart button", []).extend(on_screen(page, add_button, "Add to cart"))
    add_button.tap()
    expect(flash(page)).to_contain_text("Added a copy of “Dracula” to your cart.", timeout=TIMEOUT_MS)

    # The cart through the navigation, then check out.
    page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile(r"^Cart")).tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your cart", timeout=TIMEOUT_MS)
    expect(page.get_by_label("Quantity of “Dracula”")).to_have_value("2", timeout=TIMEOUT_MS)
    check("cart")
    checkout = page.get_by_role("link", name="Check out")
    problems.setdefault("cart check-out button", []).extend(on_screen(page, checkout, "Check out"))
    checkout.tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check out", timeout=TIMEOUT_MS)
    check("checkout")
    fill_address(page)
    place = page.get_by_role("button", name=re.compile(r"^Place the order"))
    problems.setdefault("checkout place-order button", []).extend(on_screen(page, place, "Place order"))
    place.tap()
    expect(page).to_have_url(re.compile(r"/purchases/\d+$"), timeout=TIMEOUT_MS)
    expect(flash(page)).to_contain_text("is placed", timeout=TIMEOUT_MS)
    check("purchase page")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Purchases").tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your purchases", timeout=TIMEOUT_MS)
    check("purchase history")

    problems = {where: found for where, found in problems.items() if found}
    assert not problems, "at 390x844:\n" + "\n".join(
        f"  {where}:\n" + "\n".join(f"    {p}" for p in found) for where, found in problems.items()
    )


@pytest.mark.changes_shop
def test_a_book_page_with_shoppers_also_bought_fits_a_phone_and_labels_its_controls(new_page, stack):
    stack.check_flask("seed", "--sales", "300")  # paid orders with several books (none made if they exist)
    book_id = stack.scalar(
        "SELECT i.product_id FROM purchase_items i JOIN purchases p ON p.id = i.purchase_id"
        " WHERE p.status = 'paid' GROUP BY i.product_id ORDER BY count(*) DESC, i.product_id LIMIT 1"
    )
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    page.goto(f"/books/{book_id}")
    section = page.get_by_role("region", name="Shoppers also bought")
    expect(section).to_be_visible(timeout=TIMEOUT_MS)
    expect(section.get_by_role("article")).not_to_have_count(0, timeout=TIMEOUT_MS)
    assert sideways_scroll(page, PHONE["width"]) == []
    assert not unlabelled_controls(page)
    assert axe_violations(page) == []
