"""What a shopper does in the browser, in small steps the tests share.

Everything goes through the pages' own forms, found the way a person (or a
screen reader) finds them: by label and by accessible name. Waiting is
Playwright's auto-waiting `expect` with explicit timeouts, never a sleep.
"""

from __future__ import annotations

import re
import time
import uuid

from playwright.sync_api import Locator, Page, expect

from tests.support.factories import SHIPPING_ADDRESS

PASSWORD = "a long passphrase"
TIMEOUT_MS = 10_000  # one page's worth of waiting: a navigation plus a render
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

_MONEY = re.compile(r"^\$([0-9]{1,3}(?:,[0-9]{3})*)\.([0-9]{2})$")


def cents(display: str) -> int:
    """ "$1,234.56" (as the pages show money) to integer cents; never a float."""
    match = _MONEY.match(display.strip())
    assert match, f"not an amount of money: {display!r}"
    return int(match.group(1).replace(",", "")) * 100 + int(match.group(2))


def fill_address(page: Page, address: dict | None = None) -> None:
    """Type a shipping address into the checkout's boxes, by their labels, as a shopper would."""
    address = {**SHIPPING_ADDRESS, **(address or {})}
    page.get_by_label("Recipient's name").fill(address["name"])
    page.get_by_label("Street address").fill(address["line1"])
    page.get_by_label("Address line 2 (optional)").fill(address["line2"])
    page.get_by_label("City").fill(address["city"])
    page.get_by_label("Postal code").fill(address["postal_code"])
    page.get_by_label("Country").select_option(address["country"])


def money(cents_value: int) -> str:
    return f"${cents_value // 100:,}.{cents_value % 100:02d}"


def new_email(prefix: str = "shopper") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def flash(page: Page) -> Locator:
    return page.locator(".flashes")


def sign_up(page: Page, name: str, email: str, password: str = PASSWORD) -> None:
    """Through the sign-up form; the shopper is logged in afterwards."""
    page.goto("/signup")
    page.get_by_label("Name").fill(name)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign up").click()
    expect(flash(page)).to_contain_text(f"Welcome to Blasto, {name}!", timeout=TIMEOUT_MS)
    expect(page.locator(".account__name")).to_have_text(name, timeout=TIMEOUT_MS)


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(flash(page)).to_contain_text("Welcome back", timeout=TIMEOUT_MS)


def search(page: Page, terms: str) -> None:
    """The catalogue's search box, as a shopper uses it."""
    page.goto("/books")
    page.get_by_role("search").get_by_label("Search by title or author").fill(terms)
    page.get_by_role("search").get_by_role("button", name="Search").click()
    expect(page.locator(".result-count")).to_contain_text(f"“{terms}”", timeout=TIMEOUT_MS)


def matches(stack, terms: str) -> str:
    """The catalogue's "N books match “terms”." line, N counted in the database as the search does."""
    count = stack.scalar(
        "SELECT count(*) FROM products WHERE NOT hidden AND (lower(title) LIKE :pattern OR lower(author) LIKE :pattern)",
        pattern=f"%{terms.lower()}%",
    )
    return f"{count} {'book matches' if count == 1 else 'books match'} “{terms}”."


def book_card(page: Page, title: str) -> Locator:
    return page.locator(".book-card").filter(has=page.get_by_role("heading", name=title, exact=True))


def add_from_results(page: Page, title: str) -> None:
    """The "Add to cart" button of one book in the catalogue's list; the shopper stays on the list."""
    book_card(page, title).get_by_role("button", name=f"Add “{title}” to cart").click()
    expect(flash(page)).to_contain_text(f"Added a copy of “{title}” to your cart.", timeout=TIMEOUT_MS)


def cart_row(page: Page, title: str) -> Locator:
    return page.locator("table.cart tbody tr").filter(has=page.get_by_role("link", name=title, exact=True))


def cart_count(page: Page) -> Locator:
    return page.locator(".site-nav .cart-count")


def reload_until(
    page: Page, locator: Locator, attribute: str, value: str, deadline_seconds: float, per_try_ms: int = 300
) -> None:
    """Reload the page until `locator` has `attribute` = `value` (each try auto-waits up to `per_try_ms`)."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            expect(locator).to_have_attribute(attribute, value, timeout=per_try_ms)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        page.reload()


# Every input, select and textarea a person fills in (not hidden fields or buttons)
# that has no accessible label: a <label for>, a wrapping <label>, aria-label or
# aria-labelledby naming an element with text. Returns a description of each.
UNLABELLED_CONTROLS_JS = """
() => {
  const notFilledIn = new Set(['hidden', 'submit', 'button', 'reset', 'image']);
  const text = (element) => (element && element.textContent || '').replace(/\\s+/g, ' ').trim();
  const controls = [...document.querySelectorAll('input, select, textarea')].filter(
    (el) => !(el.tagName === 'INPUT' && notFilledIn.has((el.getAttribute('type') || 'text').toLowerCase())));
  const labelled = (el) =>
    [...(el.labels || [])].some((label) => text(label)) ||
    (el.getAttribute('aria-label') || '').trim() !== '' ||
    (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)
      .some((id) => text(document.getElementById(id)));
  return controls.filter((el) => !labelled(el)).map((el) => {
    const clone = el.cloneNode(false);
    return clone.outerHTML.slice(0, 200);
  });
}
"""

# Horizontal overflow: the document wider than the window, and the elements
# that stick out past its right edge, or whose text does (the innermost ones,
# to name the culprit), the one reaching furthest first.
OVERFLOW_JS = """
(expected) => {
  const width = Math.min(window.innerWidth, expected || window.innerWidth);
  const root = document.documentElement;
  const clipped = (el) => {
    for (let node = el; node && node !== document.body; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.clip && style.clip !== 'auto' || style.clipPath && style.clipPath !== 'none') return true;
      if (node !== el && ['hidden', 'clip', 'auto', 'scroll'].includes(style.overflowX)) return true;
    }
    return false;
  };
  // How far right each element reaches: its box, or a line of its own text that does not wrap (a long word).
  const reach = new Map();
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 0.5) reach.set(el, box.right);
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let text = walker.nextNode(); text; text = walker.nextNode()) {
    range.selectNodeContents(text);
    for (const line of range.getClientRects()) {
      if (line.right > width + 0.5) reach.set(text.parentElement, Math.max(reach.get(text.parentElement) || 0, line.right));
    }
  }
  const sticking = [...reach.keys()].filter((el) => !clipped(el));
  const innermost = sticking.filter((el) => !sticking.some((other) => other !== el && el.contains(other)))
    .sort((a, b) => reach.get(b) - reach.get(a));
  return {
    innerWidth: window.innerWidth,
    scrollWidth: root.scrollWidth,
    offenders: innermost.slice(0, 10).map((el) => {
      const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
        (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
      return `${name} (right edge at ${Math.round(reach.get(el))}px): ${(el.textContent || '').replace(/\\s+/g, ' ').trim().slice(0, 60)}`;
    }),
  };
}
"""


def unlabelled_controls(page: Page) -> list[str]:
    return page.evaluate(UNLABELLED_CONTROLS_JS)


def horizontal_overflow(page: Page, width: int | None = None) -> dict:
    """The window's width, the content's, and what sticks out past `width` (default: the window's)."""
    return page.evaluate(OVERFLOW_JS, width)


def sideways_scroll(page: Page, width: int) -> list[str]:
    """Why the page scrolls sideways in a window `width` px wide, naming what sticks out furthest first ([] if not)."""
    overflow = horizontal_overflow(page, width)
    found = []
    if overflow["innerWidth"] != width:
        found.append(f"the window is {overflow['innerWidth']}px wide, not {width}px (the page was zoomed out to fit)")
    if overflow["scrollWidth"] > overflow["innerWidth"]:
        found.append(f"scrolls sideways: {overflow['scrollWidth']}px of content in {overflow['innerWidth']}px")
    if found:
        found += [f"  sticks out: {offender}" for offender in overflow["offenders"]]
    return found


def make_admin(stack, name: str = "Ada Admin") -> str:
    """An admin made by the operators' command, the password typed twice on stdin; returns the e-mail."""
    email = new_email("admin")
    stack.check_flask("create-admin", email, "--name", name, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert stack.scalar("SELECT is_admin FROM users WHERE email = :email", email=email) is True
    return email
