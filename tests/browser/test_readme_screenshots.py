"""The README's pictures of the shop, taken from the real stack so they stay true.

The front page, a book, the cart and the checkout, each on a desktop
(1280x800) and on a phone (390x844), are saved to docs/screenshots/ as
NAME-desktop.png and NAME-phone.png: the window's size, not the whole page,
once the fonts and every picture on screen have loaded. A file is rewritten only
when its picture changed. The test fails if the README does not show one of
them; commit the files it writes when the pages change.
"""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image, ImageChops
from playwright.sync_api import Page, expect

from tests.browser.shopping import DESKTOP, PHONE, TIMEOUT_MS, fill_address, flash, new_email, sign_up
from tests.support.processes import ROOT

pytestmark = pytest.mark.browser

SHOTS = ROOT / "docs" / "screenshots"
README = ROOT / "README.md"
BOOK = "Pride and Prejudice"
MAX_BYTES = 400_000  # a README picture bigger than this makes the repository slow to clone for nothing

# Every picture that is (partly) in the window has loaded and has a size; one
# further down may be lazy and never load, and is not in the screenshot anyway.
PICTURES_ON_SCREEN_LOADED_JS = """
() => [...document.images].every((image) => {
  const box = image.getBoundingClientRect();
  const onScreen = box.bottom > 0 && box.top < innerHeight && box.right > 0 && box.left < innerWidth;
  return !onScreen || (image.complete && image.naturalWidth > 0);
})
"""

# The footer's request id differs on every request: hidden (through the DOM, as the site's
# Content-Security-Policy refuses an injected stylesheet), so an unchanged page looks the same.
HIDE_REQUEST_ID_JS = (
    "() => document.querySelectorAll('.request-id').forEach((id) => { id.style.visibility = 'hidden'; })"
)
# Chromium's anti-aliasing of rounded corners may move a channel by a step or two between runs:
# a picture that differs by no more than this everywhere is the same picture, and its file is left alone.
SAME_PICTURE_MAX_DIFFERENCE = 8


def same_picture(old: bytes, new: bytes) -> bool:
    with Image.open(io.BytesIO(old)) as before, Image.open(io.BytesIO(new)) as after:
        if before.size != after.size:
            return False
        difference = ImageChops.difference(before.convert("RGB"), after.convert("RGB"))
        return max(high for _, high in difference.getextrema()) <= SAME_PICTURE_MAX_DIFFERENCE


def shoot(page: Page, name: str, written: list[str]) -> None:
    """Save the top of the page as docs/screenshots/NAME.png, once it has settled (no focus ring, no caret)."""
    page.evaluate("() => document.fonts.ready")
    page.wait_for_function(PICTURES_ON_SCREEN_LOADED_JS, timeout=TIMEOUT_MS)
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    page.evaluate(HIDE_REQUEST_ID_JS)
    picture = page.screenshot(animations="disabled", caret="hide")
    assert 0 < len(picture) <= MAX_BYTES, f"{name}.png is {len(picture):,} bytes"
    path = SHOTS / f"{name}.png"
    if not (path.is_file() and same_picture(path.read_bytes(), picture)):
        SHOTS.mkdir(parents=True, exist_ok=True)
        path.write_bytes(picture)
    written.append(path.relative_to(ROOT).as_posix())


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_the_readme_shows_the_front_page_a_book_the_cart_and_the_checkout(new_page, stack, device):
    viewport = DESKTOP if device == "desktop" else PHONE
    page = new_page(viewport=viewport, is_mobile=device == "phone", has_touch=device == "phone")
    book_id = stack.scalar("SELECT id FROM products WHERE title = :title", title=BOOK)
    written: list[str] = []

    page.goto("/home")
    expect(page.get_by_role("heading", level=1)).to_be_visible(timeout=TIMEOUT_MS)
    shoot(page, f"home-{device}", written)

    page.goto(f"/books/{book_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(BOOK, timeout=TIMEOUT_MS)
    shoot(page, f"book-{device}", written)

    sign_up(page, "Ada Reader", new_email("readme"))
    page.goto(f"/books/{book_id}")
    page.get_by_role("button", name="Add to cart").click()
    expect(flash(page)).to_contain_text(f"Added a copy of “{BOOK}”", timeout=TIMEOUT_MS)
    page.goto("/cart")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your cart", timeout=TIMEOUT_MS)
    shoot(page, f"cart-{device}", written)

    page.goto("/checkout")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check out", timeout=TIMEOUT_MS)
    fill_address(page)
    shoot(page, f"checkout-{device}", written)

    shown = set(re.findall(r"docs/screenshots/[\w.-]+\.png", README.read_text(encoding="utf-8")))
    assert len(written) == 4
    missing = [path for path in written if path not in shown]
    assert not missing, f"README.md does not show {', '.join(missing)}"
