"""Paying an order by card through the pages, against localstripe: the intent made once, a card charged,
declined, or sent through 3-D Secure; only the owner pays, only an order awaiting payment, never a 500."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import select, update

from blasto.core.config import database_uri, engine_options
from blasto.core.extensions import db
from blasto.models import Purchase
from blasto.shop import card_checkout
from tests.support.card_payments import (
    DECLINED_CARD,
    THREE_D_SECURE_CARD,
    authenticate,
    card_id,
    intent,
    intents_for,
    stripe_settings,
)
from tests.support.factories import SHIPPING_ADDRESS, make_book, make_purchase, make_user, stock_of
from tests.support.form_browser import Browser, Page, log_in
from tests.support.payment_stand_in import PUBLISHABLE_KEY
from tests.support.report_databases import sqlite_copy

pytestmark = pytest.mark.processes  # localstripe


@pytest.fixture
def card_app(app_factory, sqlite_template, tmp_path, stand_in):
    """The shop with Stripe on, pointed at the stand-in (CSRF on: the pages' real forms)."""
    sqlite_copy(sqlite_template, tmp_path)
    app = app_factory(PAYMENTS=stripe_settings(stand_in.api_base))
    return app


@pytest.fixture
def card_shopper(card_app) -> tuple[Browser, int]:
    user_id = make_user(card_app, email="shopper@example.com", name="Sam Shopper")
    browser = Browser(card_app.test_client())
    log_in(browser, "shopper@example.com")
    return browser, user_id


def checkout(browser: Browser, book_id: int, quantity: int = 1) -> Page:
    browser.submit(browser.get(f"/books/{book_id}"), "/cart/add", {"quantity": str(quantity)})
    return browser.submit(browser.get("/checkout"), "/checkout", SHIPPING_ADDRESS)


def placed_id(page: Page) -> int:
    path = page.response.request.path
    assert path.startswith("/purchases/"), (path, page.text[:500])
    return int(path.rsplit("/", 1)[1])


def order(app, purchase_id: int) -> tuple[str, str, str | None]:
    with app.app_context():
        row = db.session.execute(
            select(Purchase.status, Purchase.payment_method, Purchase.payment_intent_id).where(
                Purchase.id == purchase_id
            )
        ).one()
        return row.status, row.payment_method, row.payment_intent_id


def pay(browser: Browser, page: Page, purchase_id: int, card: str) -> Page:
    """What card-payment.js does: the token's card id posted in the page's card form."""
    return browser.submit(page, f"/purchases/{purchase_id}/pay", {"card_id": card})


def test_a_card_order_gets_one_intent_and_a_good_card_pays_it(card_app, card_shopper, stand_in):
    browser, _ = card_shopper
    emma = make_book(card_app, "Emma", price_cents=1199, stock=3)
    page = checkout(browser, emma, 2)
    purchase_id = placed_id(page)
    status, method, intent_id = order(card_app, purchase_id)
    assert (status, method) == ("awaiting_payment", "stripe") and intent_id.startswith("pi_")
    made = intent(stand_in, intent_id)
    assert (made["amount"], made["currency"], made["metadata"]) == (2398, "usd", {"purchase_id": str(purchase_id)})

    # The page: Stripe.js from the stand-in, the key, the amount, the form posting to /pay; no manual instructions.
    assert f'src="{stand_in.api_base}/js.stripe.com/v3/"' in page.html and re.search(
        r"/static/js/card-payment\.[0-9a-f]{12}\.js", page.html
    )
    assert f'data-publishable-key="{PUBLISHABLE_KEY}"' in page.html and "Pay $23.98" in page.text
    assert "<noscript>" in page.html and "bank transfer" not in page.text
    assert len(page.ids) == len(set(page.ids)), "duplicate ids"
    assert stand_in.api_base in page.response.headers["Content-Security-Policy"]

    paid = pay(browser, page, purchase_id, card_id(stand_in))
    assert paid.status == 200 and paid.response.request.path == f"/purchases/{purchase_id}"
    assert f"Order #{purchase_id} is paid." in paid.text and 'data-status="paid"' in paid.html
    assert not paid.has_form(f"/purchases/{purchase_id}/pay")
    assert order(card_app, purchase_id) == ("paid", "stripe", intent_id)
    assert intent(stand_in, intent_id)["status"] == "succeeded" and len(intents_for(stand_in, purchase_id)) == 1

    again = browser.client.post(
        f"/purchases/{purchase_id}/pay", data={**page.form(f"/purchases/{purchase_id}/pay").data(), "card_id": "x"}
    )
    assert again.status_code == 303  # paying a paid order says so and charges nothing
    assert "already paid" in browser.get(again.headers["Location"]).text


def test_a_declined_card_shows_the_form_again_with_stripes_message_and_changes_nothing(
    card_app, card_shopper, stand_in
):
    browser, _ = card_shopper
    emma = make_book(card_app, "Emma", stock=3)
    page = checkout(browser, emma)
    purchase_id = placed_id(page)
    declined = pay(browser, page, purchase_id, card_id(stand_in, DECLINED_CARD))
    assert declined.status == 422
    assert "Your card was declined." in declined.text and 'id="card-error" role="alert"' in declined.html
    assert declined.has_form(f"/purchases/{purchase_id}/pay")
    assert order(card_app, purchase_id)[0] == "awaiting_payment" and stock_of(card_app, emma) == 2


def test_a_post_without_a_card_is_a_clear_422(card_app, card_shopper, stand_in):
    browser, _ = card_shopper
    page = checkout(browser, make_book(card_app, "Emma", stock=3))
    purchase_id = placed_id(page)
    for bad in ("", "4242424242424242", "card_<script>"):
        refused = pay(browser, page, purchase_id, bad)
        assert refused.status == 422 and "No card details arrived" in refused.text
    assert order(card_app, purchase_id)[0] == "awaiting_payment"


@pytest.mark.parametrize("success", [True, False])
def test_3d_secure_then_the_check_settles_or_says_authentication_failed(card_app, card_shopper, stand_in, success):
    browser, _ = card_shopper
    page = checkout(browser, make_book(card_app, "Emma", stock=3))
    purchase_id = placed_id(page)
    asked = pay(browser, page, purchase_id, card_id(stand_in, THREE_D_SECURE_CARD))
    assert asked.status == 200 and "Your bank asks you to confirm this payment" in asked.text
    [secret] = [part.split('"')[1] for part in asked.html.split("data-client-secret=")[1:]]
    assert secret.startswith(order(card_app, purchase_id)[2] + "_secret_")
    assert order(card_app, purchase_id)[0] == "awaiting_payment"

    authenticate(stand_in, secret, success)  # what Stripe.js's confirmCardPayment does in the page
    checked = browser.submit(asked, f"/purchases/{purchase_id}/pay/check")
    if success:
        assert f"Order #{purchase_id} is paid." in checked.text and order(card_app, purchase_id)[0] == "paid"
    else:
        assert checked.status == 422 and "authentication failed" in checked.text
        assert order(card_app, purchase_id)[0] == "awaiting_payment"
        assert checked.has_form(f"/purchases/{purchase_id}/pay")  # try again, or another card


def test_an_order_cancelled_during_3d_secure_is_refunded_when_the_bank_agrees(card_app, card_shopper, stand_in):
    browser, _ = card_shopper
    page = checkout(browser, make_book(card_app, "Emma", stock=3))
    purchase_id = placed_id(page)
    asked = pay(browser, page, purchase_id, card_id(stand_in, THREE_D_SECURE_CARD))
    [secret] = [part.split('"')[1] for part in asked.html.split("data-client-secret=")[1:]]
    browser.submit(browser.get(f"/purchases/{purchase_id}"), f"/purchases/{purchase_id}/cancel")  # another tab
    assert order(card_app, purchase_id)[0] == "cancelled"

    authenticate(stand_in, secret, success=True)  # the money is taken all the same
    checked = browser.submit(asked, f"/purchases/{purchase_id}/pay/check")
    assert "arrived after the order was cancelled, so it is being refunded" in checked.text
    assert order(card_app, purchase_id)[0] == "refunded"  # the shopper chose to cancel: the money goes back


def test_only_the_owner_may_pay_and_a_manual_order_is_never_charged(card_app, card_shopper, stand_in):
    browser, _ = card_shopper
    page = checkout(browser, make_book(card_app, "Emma", stock=3))
    purchase_id = placed_id(page)
    form = page.form(f"/purchases/{purchase_id}/pay").data({"card_id": card_id(stand_in)})

    make_user(card_app, email="other@example.com")
    other = Browser(card_app.test_client())
    log_in(other, "other@example.com")
    other_form = other.get("/purchases").form("/logout").data()  # any form of theirs gives their CSRF token
    for path in (f"/purchases/{purchase_id}/pay", f"/purchases/{purchase_id}/pay/check"):
        response = other.client.post(path, data={"csrf_token": other_form["csrf_token"], "card_id": form["card_id"]})
        assert response.status_code == 404
    assert order(card_app, purchase_id)[0] == "awaiting_payment"

    with card_app.app_context():  # an order from before Stripe was turned on, paid by bank transfer
        db.session.execute(update(Purchase).where(Purchase.id == purchase_id).values(payment_method="manual"))
        db.session.commit()
    refused = browser.client.post(f"/purchases/{purchase_id}/pay", data=form)
    assert refused.status_code == 303 and "paid by bank transfer" in browser.get(refused.headers["Location"]).text
    assert order(card_app, purchase_id)[0] == "awaiting_payment"


def test_the_check_before_any_payment_says_to_enter_a_card(card_app, card_shopper, stand_in):
    browser, _ = card_shopper
    page = checkout(browser, make_book(card_app, "Emma", stock=3))
    purchase_id = placed_id(page)
    checked = browser.submit(page, f"/purchases/{purchase_id}/pay/check")
    assert checked.status == 422 and "No card payment has been made for this order yet" in checked.text
    assert order(card_app, purchase_id)[0] == "awaiting_payment"


def test_a_cancelled_order_cannot_be_paid(card_app, card_shopper, stand_in):
    browser, _ = card_shopper
    page = checkout(browser, make_book(card_app, "Emma", stock=3))
    purchase_id = placed_id(page)
    browser.submit(page, f"/purchases/{purchase_id}/cancel")
    response = browser.client.post(
        f"/purchases/{purchase_id}/pay",
        data=page.form(f"/purchases/{purchase_id}/pay").data({"card_id": card_id(stand_in)}),
    )
    assert response.status_code == 303
    assert "is cancelled: it can no longer be paid" in browser.get(response.headers["Location"]).text
    assert order(card_app, purchase_id)[0] == "cancelled"


def test_stripe_down_keeps_the_order_and_says_so(card_app, card_shopper, stand_in, caplog):
    browser, _ = card_shopper
    emma = make_book(card_app, "Emma", stock=3)
    stand_in.stop()
    page = checkout(browser, emma)  # the order is placed all the same; its intent waits for the pay step
    purchase_id = placed_id(page)
    assert order(card_app, purchase_id) == ("awaiting_payment", "stripe", None)
    refused = pay(browser, page, purchase_id, "card_1234567890")
    assert refused.status == 503 and "can't reach our card payment provider" in refused.text
    assert int(refused.response.headers["Retry-After"]) > 0
    assert "Traceback" not in refused.html and refused.has_form(f"/purchases/{purchase_id}/pay")
    assert order(card_app, purchase_id) == ("awaiting_payment", "stripe", None) and stock_of(card_app, emma) == 2
    assert any(record.getMessage() == "payment provider unavailable" for record in caplog.records)


def test_manual_mode_is_unchanged(shop_app, shopper):
    browser, _ = shopper
    page = checkout(browser, make_book(shop_app, "Emma", stock=3))
    purchase_id = placed_id(page)
    assert order(shop_app, purchase_id) == ("awaiting_payment", "manual", None)
    assert "How to pay" in page.text and "bank transfer" in page.text and "card-payment" not in page.html


@pytest.fixture
def pg_card_app(app_factory, migrated_postgres, stand_in):
    uri = database_uri(migrated_postgres, None)
    return app_factory(
        SQLALCHEMY_DATABASE_URI=uri,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(uri, 5),
        PAYMENTS=stripe_settings(stand_in.api_base),
    )


def test_two_concurrent_requests_make_one_intent(pg_card_app, stand_in):
    app = pg_card_app
    emma = make_book(app, "Emma", stock=3)
    purchase_id = make_purchase(app, make_user(app), {emma: 1}, status="awaiting_payment")
    with app.app_context():  # a card order whose intent is not made yet: two requests ask for it at once
        db.session.execute(update(Purchase).where(Purchase.id == purchase_id).values(payment_method="stripe"))
        db.session.commit()
    barrier = threading.Barrier(2, timeout=30)
    made: list[str] = []
    errors: list[BaseException] = []

    def ask():
        try:
            with app.app_context():
                barrier.wait()
                made.append(card_checkout.ensure_intent(purchase_id))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and len(made) == 2 and made[0] == made[1], (errors, made)
    assert [pi["id"] for pi in intents_for(stand_in, purchase_id)] == made[:1]
    assert order(app, purchase_id)[2] == made[0]
