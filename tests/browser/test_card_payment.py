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

from tests.browser.shopping import PASSWORD, TIMEOUT_MS, fill_address, flash, log_in, money, new_email, sign_up
from tests.support.browser_stack import browser_stack
from tests.support.card_payments import GOOD_CARD, THREE_D_SECURE_CARD, stripe_env
from tests.support.payment_stand_in import PaymentStandIn
from tests.support.processes import wait_for
from tests.support.services import spare_redis_test_url

pytestmark = pytest.mark.browser
BOOK = "Emma"
MAIL_DEADLINE_SECONDS = 30  # the outbox sweeps every half second in the stack; this is ample on a loaded machine


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


def order_a_book(page: Page, stack, email: str | None = None, shipping: str | None = None) -> tuple[int, int]:
    """Sign up, put one book in the cart, check out (with the `shipping` option whose label starts so, if
    given): (the order's id, its total in cents)."""
    sign_up(page, "Carla Card", email or new_email("card"))
    book_id = stack.scalar("SELECT id FROM products WHERE title = :title", title=BOOK)
    page.goto(f"/books/{book_id}")
    page.get_by_role("button", name="Add to cart").click()
    expect(flash(page)).to_contain_text(f"Added a copy of “{BOOK}”", timeout=TIMEOUT_MS)
    page.goto("/checkout")
    fill_address(page)
    if shipping is not None:
        page.locator("#shipping-options").get_by_label(re.compile(rf"^{shipping}:")).check()
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


def mails_about(stack, email: str, subject: str) -> list:
    return [m for m in stack.sink.for_recipient(email) if m.subject == subject]


def plain_text(message) -> str:
    return message.message.get_body(preferencelist=("plain",)).get_content()


def test_the_whole_journey_address_shipping_card_receipt_then_shipped_by_an_admin(card_page, card_stack, browser):
    page, _ = card_page
    shopper = new_email("journey")
    purchase_id, total = order_a_book(page, card_stack, shopper, shipping="Express")

    # The address and the express option chosen are on the order, and the total includes the shipping.
    row = card_stack.rows(
        "SELECT shipping_option, shipping_cents, ship_line1, total_cents FROM purchases WHERE id = :id", id=purchase_id
    )[0]
    price = card_stack.scalar("SELECT price_cents FROM products WHERE title = :title", title=BOOK)
    assert row.shipping_option == "express" and row.shipping_cents > 0, tuple(row)
    assert row.total_cents == total == price + row.shipping_cents
    expect(page.locator("#ship-to")).to_contain_text(row.ship_line1, timeout=TIMEOUT_MS)

    # Paid by card through localstripe's Stripe.js stand-in.
    type_card(page, GOOD_CARD)
    page.get_by_role("button", name=f"Pay {money(total)}").click()
    expect(flash(page)).to_contain_text(f"Order #{purchase_id} is paid.", timeout=TIMEOUT_MS)
    expect(page.locator("#order-status")).to_have_text("Paid", timeout=TIMEOUT_MS)

    # The receipt reaches the SMTP server (once), with the amount paid.
    receipt_subject = f"Your Blasto receipt for order #{purchase_id}"
    (receipt,) = wait_for(
        lambda: mails_about(card_stack, shopper, receipt_subject),
        MAIL_DEADLINE_SECONDS,
        what=f"the receipt for order #{purchase_id} at the SMTP sink",
    )
    assert money(total) in plain_text(receipt)

    # An admin (made by the operators' command) ships it from /admin with a carrier and tracking number.
    admin = new_email("card-admin")
    card_stack.check_flask("create-admin", admin, "--name", "Sid Shipper", input=f"{PASSWORD}\n{PASSWORD}\n")
    admin_context = browser.new_context(base_url=card_stack.base)
    admin_context.set_default_timeout(TIMEOUT_MS)
    try:
        admin_page = admin_context.new_page()
        log_in(admin_page, admin)
        admin_page.goto(f"/admin/purchases/{purchase_id}")
        expect(admin_page.locator("#order-status")).to_have_text("Paid", timeout=TIMEOUT_MS)
        tracking = f"1Z{purchase_id:08d}TRACK"
        admin_page.get_by_label("Carrier").fill("Parcel Post")
        admin_page.get_by_label("Tracking number").fill(tracking)
        admin_page.get_by_role("button", name="Mark shipped").click()
        expect(flash(admin_page)).to_contain_text(f"Order #{purchase_id} is marked shipped", timeout=TIMEOUT_MS)
        expect(admin_page.locator("#shipment")).to_contain_text(tracking, timeout=TIMEOUT_MS)
    finally:
        admin_context.close()

    # The shopper sees it shipped, with the tracking number, and gets that e-mail.
    page.goto(f"/purchases/{purchase_id}")
    expect(page.locator("#order-status")).to_have_text("Shipped", timeout=TIMEOUT_MS)
    expect(page.locator("#shipment")).to_contain_text(f"Parcel Post, tracking number {tracking}", timeout=TIMEOUT_MS)
    (shipped,) = wait_for(
        lambda: mails_about(card_stack, shopper, f"Your Blasto order #{purchase_id} is on its way"),
        MAIL_DEADLINE_SECONDS,
        what=f"the shipped e-mail for order #{purchase_id} at the SMTP sink",
    )
    assert tracking in plain_text(shipped) and "Parcel Post" in plain_text(shipped)
    # Each e-mail once; the history says who moved the order and why.
    assert len(mails_about(card_stack, shopper, receipt_subject)) == 1
    history = card_stack.rows(
        "SELECT to_status, cause FROM purchase_events WHERE purchase_id = :id ORDER BY id", id=purchase_id
    )
    assert [h.to_status for h in history] == ["awaiting_payment", "paid", "shipped"], history
    assert history[-1].cause == "admin"
