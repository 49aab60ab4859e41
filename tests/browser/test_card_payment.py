"""A shopper pays by card in a real browser: the Procfile stack with Stripe's keys, pointed at localstripe.

Its own stack (the package's stays in manual mode for the other browser tests),
on a Redis database of its own so neither stack's worker takes the other's
tasks. The card field is localstripe's stand-in for Stripe Elements, loaded
from STRIPE_JS_URL under the page's CSP; the card number goes to localstripe,
never to the shop, which receives only the token's card id.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.shopping import TIMEOUT_MS, fill_address, flash, money, new_email, sign_up
from tests.support.browser_stack import browser_stack
from tests.support.card_payments import GOOD_CARD, THREE_D_SECURE_CARD, stripe_env
from tests.support.payment_stand_in import PaymentStandIn
from tests.support.services import spare_redis_test_url

pytestmark = pytest.mark.browser
BOOK = "Emma"


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    with PaymentStandIn(tmp_path_factory.mktemp("localstripe") / "localstripe.log") as running:
        yield running


@pytest.fixture(scope="module")
def card_stack(tmp_path_factory, postgres_admin, stand_in):
    work_dir = tmp_path_factory.mktemp("card-stack")
    with browser_stack(
        work_dir, postgres_admin, extra_env=stripe_env(stand_in.api_base), redis_url=spare_redis_test_url()
    ) as running:
        yield running


@pytest.fixture
def card_page(browser, card_stack):
    context = browser.new_context(base_url=card_stack.base, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page, problems
    context.close()


def order_a_book(page: Page, stack) -> tuple[int, int]:
    """Sign up, put one book in the cart, check out: (the order's id, its total in cents)."""
    sign_up(page, "Carla Card", new_email("card"))
    book_id = stack.scalar("SELECT id FROM products WHERE title = :title", title=BOOK)
    page.goto(f"/books/{book_id}")
    page.get_by_role("button", name="Add to cart").click()
    expect(flash(page)).to_contain_text(f"Added a copy of “{BOOK}”", timeout=TIMEOUT_MS)
    page.goto("/checkout")
    fill_address(page)
    page.get_by_role("button", name="Place the order").click()
    expect(page).to_have_url(re.compile(r"/purchases/\d+$"), timeout=TIMEOUT_MS)
    purchase_id = int(page.url.rsplit("/", 1)[1])
    return purchase_id, stack.scalar("SELECT total_cents FROM purchases WHERE id = :id", id=purchase_id)


def type_card(page: Page, number: str) -> None:
    """Into localstripe's card inputs (real Stripe Elements would be in an iframe), as a shopper types."""
    card = page.locator("#card-element")
    card.get_by_placeholder("number").fill(number)
    card.get_by_placeholder("exp_month").fill("12")
    card.get_by_placeholder("exp_year").fill("34")
    card.get_by_placeholder("cvc").fill("123")
    card.get_by_placeholder("postal_code").fill("D02")


def test_a_shopper_pays_by_card_and_sees_the_order_paid(card_page, card_stack):
    page, problems = card_page
    purchase_id, total = order_a_book(page, card_stack)
    expect(page.locator("#order-status")).to_have_text("Awaiting payment", timeout=TIMEOUT_MS)
    expect(page.locator("#card-amount")).to_have_text(money(total), timeout=TIMEOUT_MS)
    expect(page.locator("#payment-instructions")).to_have_count(0)  # no bank transfer for a card order

    type_card(page, GOOD_CARD)
    page.get_by_role("button", name=f"Pay {money(total)}").click()

    expect(flash(page)).to_contain_text(f"Order #{purchase_id} is paid.", timeout=TIMEOUT_MS)
    expect(page.locator("#order-status")).to_have_text("Paid", timeout=TIMEOUT_MS)
    expect(page.locator("#card-payment")).to_have_count(0)
    row = card_stack.rows("SELECT status, payment_method FROM purchases WHERE id = :id", id=purchase_id)[0]
    assert tuple(row) == ("paid", "stripe")
    assert not [p for p in problems if "Content Security Policy" in p], problems  # Stripe.js ran under the CSP


def test_3d_secure_in_the_page_then_paid(card_page, card_stack):
    page, _ = card_page
    purchase_id, total = order_a_book(page, card_stack)
    type_card(page, THREE_D_SECURE_CARD)
    page.get_by_role("button", name=f"Pay {money(total)}").click()

    # The bank's check: localstripe's stand-in for it is a box with two buttons.
    expect(page.locator("#card-action")).to_be_visible(timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Complete authentication").click()

    expect(flash(page)).to_contain_text(f"Order #{purchase_id} is paid.", timeout=TIMEOUT_MS)
    expect(page.locator("#order-status")).to_have_text("Paid", timeout=TIMEOUT_MS)
