"""An order's life through the pages: placed awaiting payment, paid, shipped, or cancelled by either side.

Every move is a POST form with its CSRF token; the order page shows the state,
how to pay while the payment is awaited, and the history with its times.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import OutboxMessage, PurchaseEvent
from blasto.outbox.delivery import deliver
from tests.support.factories import make_admin, make_book, make_user, stock_of
from tests.support.form_browser import Browser, Page, log_in

EMAIL = "shopper@example.com"


def check_out(browser: Browser, book_id: int, quantity: int = 1) -> tuple[Page, int]:
    browser.submit(browser.get(f"/books/{book_id}"), "/cart/add", {"quantity": str(quantity)})
    page = browser.submit(browser.get("/checkout"), "/checkout")
    assert page.status == 200 and re.fullmatch(r"/purchases/\d+", page.response.request.path), page.text[:300]
    return page, int(page.response.request.path.rsplit("/", 1)[1])


@pytest.fixture
def office(shop_app) -> Browser:
    """A second browser, logged in as an admin, beside the shopper's."""
    make_admin(shop_app, "office@example.com", "Olive Office")
    browser = Browser(shop_app.test_client())
    log_in(browser, "office@example.com")
    return browser


def status_on(page: Page) -> str:
    match = re.search(r'id="order-status"[^>]*data-status="([a-z_]+)"', page.html)
    assert match, page.text[:500]
    return match[1]


def owed(app, purchase_id: int) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(OutboxMessage.kind).where(OutboxMessage.purchase_id == purchase_id).order_by(OutboxMessage.id)
            )
        )


def test_a_placed_order_awaits_payment_with_instructions_and_its_history(shop_app, shopper):
    browser, _ = shopper
    emma = make_book(shop_app, "Emma", price_cents=1199, stock=3)
    browser.submit(browser.get(f"/books/{emma}"), "/cart/add", {"quantity": "2"})
    review = browser.get("/checkout")
    assert "Standard: free (total $23.98)" in review.text and "Place order and pay" not in review.text
    assert "Nothing is charged now" in review.text

    page = browser.submit(review, "/checkout")
    purchase_id = int(page.response.request.path.rsplit("/", 1)[1])

    assert f"Order #{purchase_id} is placed; it waits for your payment." in page.text
    assert status_on(page) == "awaiting_payment" and "Awaiting payment" in page.text
    assert "payment-instructions" in page.ids
    assert f"Please pay $23.98 by bank transfer, with “Blasto order #{purchase_id}” as the reference." in page.text
    assert re.search(r"History .*: placed", page.text)
    assert "placed-email-state" in page.ids and "receipt-state" not in page.ids
    assert page.has_form(f"/purchases/{purchase_id}/cancel")
    assert owed(shop_app, purchase_id) == ["order_placed"]
    assert stock_of(shop_app, emma) == 1
    listing = browser.get("/purchases")
    assert "Awaiting payment" in listing.text


def test_the_shopper_cancels_an_unpaid_order_and_its_books_go_back(shop_app, shopper):
    browser, user_id = shopper
    emma = make_book(shop_app, "Emma", stock=3)
    page, purchase_id = check_out(browser, emma, 2)

    page = browser.submit(page, f"/purchases/{purchase_id}/cancel")

    assert page.status == 200 and f"Order #{purchase_id} is cancelled." in page.text
    assert status_on(page) == "cancelled" and "payment-instructions" not in page.ids
    assert not page.has_form(f"/purchases/{purchase_id}/cancel")
    assert re.search(r"Cancelled, by the shopper", page.text)
    assert stock_of(shop_app, emma) == 3
    assert owed(shop_app, purchase_id) == ["order_placed", "cancelled"]
    with shop_app.app_context():
        event = db.session.scalars(select(PurchaseEvent).where(PurchaseEvent.to_status == "cancelled")).one()
        assert (event.cause, event.user_id, event.from_status) == ("shopper", user_id, "awaiting_payment")
        assert event.request_id  # the request that cancelled it


def test_a_paid_order_offers_its_shopper_no_cancel_button_but_says_how_to_cancel(shop_app, shopper, office):
    browser, _ = shopper
    emma = make_book(shop_app, "Emma", stock=3)
    _, purchase_id = check_out(browser, emma, 1)
    office.submit(office.get(f"/admin/purchases/{purchase_id}"), f"/admin/purchases/{purchase_id}/pay")

    page = browser.get(f"/purchases/{purchase_id}")
    assert status_on(page) == "paid" and not page.has_form(f"/purchases/{purchase_id}/cancel")
    assert "To cancel this order before it ships, write to the shop" in page.text
    forged = browser.client.post(
        f"/purchases/{purchase_id}/cancel", data={"csrf_token": _csrf(browser)}, follow_redirects=True
    )
    assert forged.status_code == 200 and "write to the shop" in forged.get_data(as_text=True)
    assert status_on(browser.get(f"/purchases/{purchase_id}")) == "paid" and stock_of(shop_app, emma) == 2


def test_another_shoppers_order_cannot_be_cancelled_it_is_a_404(shop_app, shopper):
    browser, _ = shopper
    emma = make_book(shop_app, "Emma", stock=3)
    page, purchase_id = check_out(browser, emma)
    assert page.has_form(f"/purchases/{purchase_id}/cancel")

    make_user(shop_app, email="other@example.com", name="Other")
    other = Browser(shop_app.test_client())
    log_in(other, "other@example.com")
    response = other.client.post(f"/purchases/{purchase_id}/cancel", data={"csrf_token": _csrf(other)})
    assert response.status_code == 404
    response = browser.client.post(f"/purchases/{purchase_id}/cancel", data={})
    assert response.status_code == 400, "no CSRF token, no cancel"
    assert status_on(browser.get(f"/purchases/{purchase_id}")) == "awaiting_payment"
    assert stock_of(shop_app, emma) == 2


def _csrf(browser: Browser) -> str:
    """A CSRF token of this browser's session, from the log-out form every page carries."""
    page = browser.get("/")
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page.html
    )
    assert match, "no CSRF token on the home page"
    return match[1]


def test_the_admin_marks_paid_then_shipped_and_the_shopper_sees_each_step(shop_app, shopper, office):
    browser, _ = shopper
    emma = make_book(shop_app, "Emma", stock=3)
    _, purchase_id = check_out(browser, emma)
    admin_page = office.get(f"/admin/purchases/{purchase_id}")
    assert status_on(admin_page) == "awaiting_payment" and not admin_page.has_form(
        f"/admin/purchases/{purchase_id}/ship"
    )

    paid = office.submit(admin_page, f"/admin/purchases/{purchase_id}/pay")
    assert f"Order #{purchase_id} is marked paid" in paid.text and status_on(paid) == "paid"
    assert re.search(
        r"Awaiting payment → Paid, by Olive Office \(account #\d+\): payment received outside the shop", paid.text
    )
    assert owed(shop_app, purchase_id) == ["order_placed", "receipt"]
    page = browser.get(f"/purchases/{purchase_id}")
    assert status_on(page) == "paid" and "receipt-state" in page.ids and "payment-instructions" not in page.ids
    assert "To cancel this order before it ships, write to the shop" in page.text

    refused = office.submit(
        paid, f"/admin/purchases/{purchase_id}/ship", {"carrier": " ", "tracking_number": "<script>"}
    )
    assert refused.status == 400 and status_on(refused) == "paid"
    assert "Please enter the carrier." in refused.text and "A tracking number has letters and digits" in refused.text

    shipped = office.submit(
        refused,
        f"/admin/purchases/{purchase_id}/ship",
        {"carrier": "La Poste", "tracking_number": "6A123 456 789"},
    )
    assert status_on(shipped) == "shipped" and "La Poste, tracking number 6A123 456 789" in shipped.text
    assert not shipped.has_form(f"/admin/purchases/{purchase_id}/cancel")
    page = browser.get(f"/purchases/{purchase_id}")
    assert "On its way with La Poste, tracking number 6A123 456 789" in page.text
    assert not page.has_form(f"/purchases/{purchase_id}/cancel")
    assert owed(shop_app, purchase_id) == ["order_placed", "receipt", "shipped"]
    assert stock_of(shop_app, emma) == 2


def test_the_admin_cancels_an_unpaid_order_and_refunds_a_paid_one(shop_app, shopper, office):
    browser, _ = shopper
    emma = make_book(shop_app, "Emma", stock=5)
    _, unpaid = check_out(browser, emma, 2)
    _, paid = check_out(browser, emma, 1)
    office.submit(office.get(f"/admin/purchases/{paid}"), f"/admin/purchases/{paid}/pay")
    assert stock_of(shop_app, emma) == 2

    page = office.submit(office.get(f"/admin/purchases/{unpaid}"), f"/admin/purchases/{unpaid}/cancel")
    assert f"Order #{unpaid} is cancelled; its books are back in stock." in page.text and status_on(page) == "cancelled"
    page = office.submit(office.get(f"/admin/purchases/{paid}"), f"/admin/purchases/{paid}/cancel")
    assert f"Order #{paid} is refunded" in page.text and status_on(page) == "refunded"
    assert "Paid → Refunded, by Olive Office" in page.text and "refunded outside the shop" in page.text
    assert stock_of(shop_app, emma) == 5
    assert owed(shop_app, paid) == ["order_placed", "receipt", "refunded"]

    stale = office.client.post(
        f"/admin/purchases/{paid}/pay", data={"csrf_token": _csrf(office)}, follow_redirects=True
    )
    assert stale.status_code == 200 and "is refunded: it cannot be marked paid now." in stale.get_data(as_text=True)
    assert office.client.post("/admin/purchases/999999/pay", data={"csrf_token": _csrf(office)}).status_code == 404


def test_the_admin_list_filters_by_state(shop_app, shopper, office):
    browser, _ = shopper
    emma = make_book(shop_app, "Emma", stock=5)
    _, waiting = check_out(browser, emma)
    _, to_ship = check_out(browser, emma)
    office.submit(office.get(f"/admin/purchases/{to_ship}"), f"/admin/purchases/{to_ship}/pay")

    listed = office.get("/admin/purchases?state=to_ship")
    assert f"purchase-{to_ship}" in listed.ids and f"purchase-{waiting}" not in listed.ids
    listed = office.get("/admin/purchases?state=awaiting_payment")
    assert f"purchase-{waiting}" in listed.ids and f"purchase-{to_ship}" not in listed.ids
    everything = office.get("/admin/purchases")
    assert {f"purchase-{waiting}", f"purchase-{to_ship}"} <= set(everything.ids)
    bad = office.get("/admin/purchases?state=paid-ish")
    assert bad.status == 400 and "Not a valid choice" in bad.text


def test_each_step_sends_its_own_e_mail_once(shop_app, shopper, office, sink):
    shop_app.config["PAYMENT_INSTRUCTIONS"] = "Wire {total} to IBAN XX00 0001, reference {order}, by {deadline}."
    browser, _ = shopper
    emma = make_book(shop_app, "Emma", price_cents=1199, stock=5)
    _, shipped = check_out(browser, emma)
    _, refunded = check_out(browser, emma)
    _, cancelled = check_out(browser, emma)
    # The admin ships from the order's own page: it shows where to.
    assert "Ship to Ada Reader 1 Book Street D02 X285 Dublin Ireland" in office.get(f"/admin/purchases/{shipped}").text
    for order in (shipped, refunded):
        office.submit(office.get(f"/admin/purchases/{order}"), f"/admin/purchases/{order}/pay")
    office.submit(
        office.get(f"/admin/purchases/{shipped}"),
        f"/admin/purchases/{shipped}/ship",
        {"carrier": "DHL", "tracking_number": "JD014600003"},
    )
    office.submit(office.get(f"/admin/purchases/{refunded}"), f"/admin/purchases/{refunded}/cancel")
    browser.submit(browser.get(f"/purchases/{cancelled}"), f"/purchases/{cancelled}/cancel")

    with shop_app.app_context():
        ids = list(db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.kind != "welcome")))
        # Placed, paid, shipped; placed, paid, refunded; placed, cancelled.
        assert [deliver(outbox_id).state for outbox_id in ids] == ["sent"] * 8
        assert {deliver(outbox_id).state for outbox_id in ids} == {"skipped"}, "sent once, never twice"

    mails = {
        (m.message_id or "").split(".")[0].lstrip("<") + f":{m.message_id.split('.')[1]}": m for m in sink.received
    }
    assert len(mails) == len(sink.received) == 8
    placed = mails[f"order_placed:{shipped}"]
    body = placed.message.get_body(("plain",)).get_content()
    assert placed.subject == f"Your Blasto order #{shipped}: how to pay" and placed.rcpt_tos == (EMAIL,)
    assert f"Wire $11.99 to IBAN XX00 0001, reference #{shipped}, by " in body and "This is not a receipt" in body
    lines = body.splitlines()
    assert "Shipping (Standard): free" in lines and lines[lines.index("Ship to:") + 1 :][:2] == [
        "  Ada Reader",
        "  1 Book Street",
    ]
    receipt = mails[f"receipt:{shipped}"].message.get_body(("plain",)).get_content()
    assert "we have received your payment" in receipt and "Total: $11.99" in receipt
    assert "Books: $11.99" in receipt and "D02 X285 Dublin" in receipt
    on_its_way = mails[f"shipped:{shipped}"]
    assert on_its_way.subject == f"Your Blasto order #{shipped} is on its way"
    assert "Carrier: DHL" in on_its_way.message.get_body(("plain",)).get_content()
    assert "JD014600003" in on_its_way.message.get_body(("html",)).get_content()
    assert "1 Book Street" in on_its_way.message.get_body(("html",)).get_content()
    assert "refunded the way you paid it" in mails[f"refunded:{refunded}"].message.get_body(("plain",)).get_content()
    assert mails[f"cancelled:{cancelled}"].subject == f"Your Blasto order #{cancelled} is cancelled"
    assert f"receipt:{cancelled}" not in mails, "no receipt for an order never paid"
