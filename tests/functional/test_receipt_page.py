"""The purchase page says where its e-mails are: the order's at once, the receipt once paid; on its way, sent, or not sent."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import OutboxMessage
from blasto.models.purchase import ADMIN
from blasto.outbox.delivery import deliver
from blasto.shop.orders import PAY, move
from tests.support.factories import make_book, make_purchase

EMAIL = "shopper@example.com"


class _Element(HTMLParser):
    """The attributes and text of the element with one id."""

    def __init__(self, element_id: str):
        super().__init__(convert_charrefs=True)
        self.element_id = element_id
        self.attrs: dict | None = None
        self.times: list[str] = []
        self._text: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self._depth:
            self._depth += 1
            if tag == "time":
                self.times.append(attrs.get("datetime", ""))
        elif attrs.get("id") == self.element_id:
            self.attrs, self._depth = attrs, 1

    def handle_endtag(self, tag):
        if self._depth:
            self._depth -= 1

    def handle_data(self, data):
        if self._depth:
            self._text.append(data)

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", "".join(self._text)).strip()


def receipt_on(page, element_id: str = "receipt-state") -> _Element:
    element = _Element(element_id)
    element.feed(page.html)
    assert element.attrs is not None, f"no #{element_id} on {page.response.request.path}"
    return element


def check_out(browser, book_id: int, quantity: int = 1):
    browser.submit(browser.get(f"/books/{book_id}"), "/cart/add", {"quantity": str(quantity)})
    page = browser.submit(browser.get("/checkout"), "/checkout")
    assert page.status == 200 and re.fullmatch(r"/purchases/\d+", page.response.request.path), page.text[:300]
    return page, int(page.response.request.path.rsplit("/", 1)[1])


def deliver_receipt(app, purchase_id: int, kind: str = "receipt") -> str:
    with app.app_context():
        outbox_id = db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == f"{kind}:{purchase_id}"))
        return deliver(outbox_id).state


def pay(app, purchase_id: int) -> None:
    with app.app_context():
        move(purchase_id, PAY, ADMIN)


def test_the_order_email_goes_out_at_once_and_the_receipt_only_once_paid(shop_app, shopper, sink):
    browser, _ = shopper
    emma = make_book(shop_app, "Emma", stock=3)

    page, purchase_id = check_out(browser, emma, 2)

    assert f"Order #{purchase_id} is placed" in page.text
    placed = receipt_on(page, "placed-email-state")
    assert placed.attrs["data-state"] == "pending"
    assert placed.text == f"An e-mail with the order and how to pay is on its way to {EMAIL}."
    assert "receipt-state" not in page.ids, "no receipt before the money is in"
    assert deliver_receipt(shop_app, purchase_id, "order_placed") == "sent"
    placed = receipt_on(browser.get(f"/purchases/{purchase_id}"), "placed-email-state")
    assert placed.text.startswith(f"The order and how to pay were e-mailed to {EMAIL} on ")

    pay(shop_app, purchase_id)
    receipt = receipt_on(browser.get(f"/purchases/{purchase_id}"))
    assert receipt.attrs["data-state"] == "pending" and "receipt--pending" in receipt.attrs["class"]
    assert receipt.text == f"Your receipt e-mail is on its way to {EMAIL}."

    assert deliver_receipt(shop_app, purchase_id) == "sent"
    receipt = receipt_on(browser.get(f"/purchases/{purchase_id}"))
    assert receipt.attrs["data-state"] == "sent"
    assert receipt.text.startswith(f"Receipt sent to {EMAIL} on ") and receipt.text.endswith(".")
    (sent_at,) = receipt.times
    assert abs((datetime.fromisoformat(sent_at) - datetime.now(UTC)).total_seconds()) < 60
    order_mail, receipt_mail = sink.received
    assert f"order #{purchase_id}" in order_mail.subject and "how to pay" in order_mail.subject
    assert receipt_mail.subject == f"Your Blasto receipt for order #{purchase_id}" and receipt_mail.rcpt_tos == (EMAIL,)
    # Without PUBLIC_URL the link is made from the checkout request's own host.
    assert f"http://localhost/purchases/{purchase_id}" in order_mail.message.get_body(("plain",)).get_content()


def test_a_receipt_that_could_not_be_sent_says_so(shop_app, shopper, sink):
    browser, _ = shopper
    emma = make_book(shop_app, "Emma", stock=3)
    _, purchase_id = check_out(browser, emma)
    pay(shop_app, purchase_id)
    assert receipt_on(browser.get(f"/purchases/{purchase_id}")).attrs["data-state"] == "pending"
    sink.refuse_recipients = {EMAIL}

    assert deliver_receipt(shop_app, purchase_id) == "failed"

    page = browser.get(f"/purchases/{purchase_id}")
    receipt = receipt_on(page)
    assert receipt.attrs["data-state"] == "failed" and "receipt--failed" in receipt.attrs["class"]
    assert (
        receipt.text
        == f"We could not e-mail your receipt to {EMAIL}; we will look into it. This page is your receipt meanwhile."
    )
    assert "$11.99" in page.text  # the bill itself is still there
    assert sink.received == []


def test_a_purchase_from_before_receipts_shows_no_receipt_line(shop_app, shopper):
    browser, user_id = shopper
    emma = make_book(shop_app, "Emma", stock=3)
    purchase_id = make_purchase(shop_app, user_id, {emma: 1})
    page = browser.get(f"/purchases/{purchase_id}")
    assert page.status == 200 and f"Order #{purchase_id}" in page.text
    assert "receipt-state" not in page.ids
