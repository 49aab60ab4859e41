"""A shopper's whole visit in a real browser, against web, worker and clock from the Procfile.

Sign up through the form, search, fill the cart with two books, change a
quantity, check out, and watch the purchase page until the receipt e-mail,
sent by the worker to the SMTP sink, shows as sent.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.shopping import (
    TIMEOUT_MS,
    add_from_results,
    book_card,
    cart_count,
    cart_row,
    cents,
    fill_address,
    flash,
    matches,
    money,
    new_email,
    reload_until,
    search,
    sign_up,
)
from tests.support.processes import wait_for

pytestmark = pytest.mark.browser

FIRST, SECOND = "Emma", "Persuasion"  # both by Jane Austen, in the sample catalogue


def test_sign_up_search_fill_the_cart_check_out_and_get_the_receipt(page, stack):
    email = new_email()
    sign_up(page, "Ada Reader", email)

    # Search, and add the first book straight from the results.
    search(page, "austen")
    expect(page.locator(".result-count")).to_have_text(matches(stack, "austen"), timeout=TIMEOUT_MS)
    for title in (FIRST, SECOND):
        expect(book_card(page, title)).to_be_visible(timeout=TIMEOUT_MS)
    add_from_results(page, FIRST)
    assert "q=austen" in page.url, "back on the search results after adding"
    expect(cart_count(page)).to_contain_text("(1", timeout=TIMEOUT_MS)

    # The second book from its own page, two copies.
    page.locator(".book-card").get_by_role("link", name=SECOND, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(SECOND, timeout=TIMEOUT_MS)
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()
    expect(flash(page)).to_contain_text(f"Added 2 copies of “{SECOND}” to your cart.", timeout=TIMEOUT_MS)
    expect(page).to_have_url(re.compile(r"/cart$"), timeout=TIMEOUT_MS)
    expect(cart_count(page)).to_contain_text("(3", timeout=TIMEOUT_MS)

    # Change the first book's quantity in the cart.
    page.get_by_label(f"Quantity of “{FIRST}”").fill("3")
    page.get_by_role("button", name=f"Update “{FIRST}”").click()
    expect(flash(page)).to_contain_text("Your cart is updated.", timeout=TIMEOUT_MS)
    expect(page.get_by_label(f"Quantity of “{FIRST}”")).to_have_value("3", timeout=TIMEOUT_MS)
    expect(cart_count(page)).to_contain_text("(5", timeout=TIMEOUT_MS)

    # The expected bill, from the prices on the page, checked against the catalogue.
    quantities = {FIRST: 3, SECOND: 2}
    shown = {title: cents(cart_row(page, title).locator("td[data-label='Price']").inner_text()) for title in quantities}
    stored = dict(stack.rows("SELECT title, price_cents FROM products WHERE title IN (:a, :b)", a=FIRST, b=SECOND))
    assert shown == stored, f"the cart shows the catalogue's prices: {shown} != {stored}"
    for title, quantity in quantities.items():
        expect(cart_row(page, title).locator("td[data-label='Line total']")).to_have_text(
            money(shown[title] * quantity), timeout=TIMEOUT_MS
        )
    total = sum(shown[title] * quantity for title, quantity in quantities.items())
    assert total == 3 * 1199 + 2 * 1099  # the sample catalogue's prices, in integer cents
    expect(page.locator("table.cart tfoot .total")).to_have_text(money(total), timeout=TIMEOUT_MS)

    # Check out: the review page, then the order.
    page.get_by_role("link", name="Check out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check out", timeout=TIMEOUT_MS)
    expect(page.locator("table.bill tfoot .total")).to_have_text(money(total), timeout=TIMEOUT_MS)
    # Where to and how: a new shopper types the address; standard shipping is free in the test stack.
    expect(page.locator("#shipping-options")).to_contain_text(f"Standard: free (total {money(total)})")
    fill_address(page)
    page.get_by_role("button", name="Place the order").click()

    expect(page).to_have_url(re.compile(r"/purchases/\d+$"), timeout=TIMEOUT_MS)
    purchase_id = int(page.url.rsplit("/", 1)[1])
    expect(flash(page)).to_contain_text(f"Thank you! Order #{purchase_id} is placed", timeout=TIMEOUT_MS)
    expect(page.locator("#order-status")).to_have_text("Awaiting payment", timeout=TIMEOUT_MS)
    expect(page.locator("#payment-instructions")).to_contain_text(money(total), timeout=TIMEOUT_MS)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order #{purchase_id}", timeout=TIMEOUT_MS)
    expect(page.locator("table.bill tfoot .total")).to_have_text(money(total), timeout=TIMEOUT_MS)
    expect(page.locator("table.bill tbody tr")).to_have_count(2, timeout=TIMEOUT_MS)
    expect(page.locator("#ship-to")).to_contain_text("1 Book Street", timeout=TIMEOUT_MS)
    # The static script (allowed by the CSP) rewrote the UTC time to the browser's zone, keeping UTC as the title.
    placed_at = page.locator("h1 + p time[datetime]")
    expect(placed_at).to_have_attribute("data-localised", "", timeout=TIMEOUT_MS)
    expect(placed_at).to_have_attribute("title", re.compile(r"UTC$"), timeout=TIMEOUT_MS)
    expect(cart_count(page)).to_contain_text("(0", timeout=TIMEOUT_MS)
    assert stack.scalar("SELECT total_cents FROM purchases WHERE id = :id", id=purchase_id) == total

    # The order-placed e-mail (how to pay; the receipt waits for the payment): pending or already
    # sent at first, "sent" within seconds (the page is reloaded to see it).
    placed = page.locator("#placed-email-state")
    expect(placed).to_contain_text(email, timeout=TIMEOUT_MS)
    reload_until(page, placed, "data-state", "sent", deadline_seconds=30)
    expect(page.locator("#receipt-state")).to_have_count(0, timeout=TIMEOUT_MS)

    # ... and the SMTP server got exactly that e-mail, once, and no receipt.
    def placed_emails():
        return [m for m in stack.sink.for_recipient(email) if m.subject and f"order #{purchase_id}" in m.subject]

    (message,) = wait_for(placed_emails, 15, what=f"the order-placed e-mail for order #{purchase_id} at the SMTP sink")
    assert message.rcpt_tos == (email,)
    assert re.fullmatch(rf"<order_placed\.{purchase_id}\.\d+@blasto\.example>", message.message_id or ""), (
        message.message_id
    )
    body = message.message.get_body(preferencelist=("plain",)).get_content()
    assert f"Total: {money(total)}" in body and "How to pay:" in body
    assert f"{stack.base}/purchases/{purchase_id}" in body, "the e-mail links to the order (PUBLIC_URL)"
    assert len(placed_emails()) == 1

    # The history lists it.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Purchases").click()
    summary = page.locator(".purchase-summary").filter(has=page.get_by_role("link", name=f"Order #{purchase_id}"))
    expect(summary).to_contain_text("5 books: ", timeout=TIMEOUT_MS)
    for title in (FIRST, SECOND):
        expect(summary).to_contain_text(title, timeout=TIMEOUT_MS)
    expect(summary.locator(".total")).to_have_text(f"Total {money(total)}", timeout=TIMEOUT_MS)
