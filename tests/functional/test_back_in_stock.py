"""A sold-out book's page: "Tell me when it is back", through the real forms with their CSRF tokens."""

from __future__ import annotations

from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import RestockWish
from tests.support.factories import make_book, make_user, set_hidden
from tests.support.form_browser import Browser, Page, log_in

ASK_WORDS = "Tell me when it is back"
WAITING_WORDS = "We will e-mail you when it is back."


def csrf_token(browser: Browser) -> str:
    """The session's CSRF token, from the log-in form (signed out) or the log-out form (signed in)."""
    page = browser.get("/login")
    token = next((form.value("csrf_token") for form in page.forms if form.value("csrf_token")), None)
    assert token, "the page carries a CSRF token"
    return token


def wishes(app) -> list[tuple[int, int]]:
    """(user id, book id) of every wish not yet told."""
    with app.app_context():
        return [
            tuple(row)
            for row in db.session.execute(
                select(RestockWish.user_id, RestockWish.product_id).where(RestockWish.notified_at.is_(None))
            )
        ]


def test_a_shopper_asks_about_a_sold_out_book_once_and_the_page_says_it_will_e_mail(shop_app, shopper):
    browser, user_id = shopper
    emma = make_book(shop_app, "Emma", stock=0)
    page = browser.get(f"/books/{emma}")
    assert ASK_WORDS in page.text and WAITING_WORDS not in page.text

    asked = browser.submit(page, f"/books/{emma}/restock-wish")
    assert asked.status == 200 and asked.response.request.path == f"/books/{emma}"
    assert WAITING_WORDS in asked.text and ASK_WORDS not in asked.text
    assert asked.has_form(f"/books/{emma}/restock-wish/cancel")
    # The same post again (a second tab, a double click): still one wish.
    again = browser.client.post(f"/books/{emma}/restock-wish", data=page.form(f"/books/{emma}/restock-wish").data())
    assert again.status_code == 303
    assert wishes(shop_app) == [(user_id, emma)]


def test_a_shopper_cancels_the_wish_and_can_ask_again(shop_app, shopper):
    browser, _ = shopper
    emma = make_book(shop_app, "Emma", stock=0)
    asked = browser.submit(browser.get(f"/books/{emma}"), f"/books/{emma}/restock-wish")

    cancelled = browser.submit(asked, f"/books/{emma}/restock-wish/cancel")

    assert cancelled.status == 200 and "You will not get an e-mail about this book." in cancelled.text
    assert ASK_WORDS in cancelled.text and WAITING_WORDS not in cancelled.text
    assert wishes(shop_app) == []


def test_a_signed_out_visitor_sees_a_log_in_link_and_a_post_is_sent_to_log_in_then_back(shop_app, browser):
    make_user(shop_app, email="shopper@example.com")
    emma = make_book(shop_app, "Emma", stock=0)
    page = browser.get(f"/books/{emma}")
    assert ASK_WORDS not in page.text and "Log in and we will e-mail you when it is back." in page.text
    assert f'href="/login?next=/books/{emma}"' in page.html

    response = browser.client.post(f"/books/{emma}/restock-wish", data={"csrf_token": csrf_token(browser)})

    assert response.status_code == 303
    assert response.headers["Location"] == f"/login?next=/books/{emma}"
    assert wishes(shop_app) == []
    back = log_in(browser, "shopper@example.com", next_url=f"/books/{emma}")
    assert back.response.request.path == f"/books/{emma}" and ASK_WORDS in back.text


def test_a_post_without_its_csrf_token_is_refused_and_stores_nothing(shop_app, shopper):
    browser, _ = shopper
    emma = make_book(shop_app, "Emma", stock=0)
    assert browser.client.post(f"/books/{emma}/restock-wish", data={}).status_code == 400
    assert wishes(shop_app) == []


def test_a_book_in_stock_offers_no_wish_and_a_post_says_it_can_be_bought(shop_app, shopper):
    browser, _ = shopper
    emma = make_book(shop_app, "Emma", stock=3)
    page = browser.get(f"/books/{emma}")
    assert ASK_WORDS not in page.text and not page.has_form(f"/books/{emma}/restock-wish")

    answer = Page(
        browser.client.post(
            f"/books/{emma}/restock-wish", data={"csrf_token": csrf_token(browser)}, follow_redirects=True
        )
    )

    assert answer.response.request.path == f"/books/{emma}"
    assert "This book is in stock: you can buy it now." in answer.text
    assert wishes(shop_app) == []


def test_a_wish_for_an_unknown_or_hidden_book_is_a_404(shop_app, shopper):
    browser, _ = shopper
    hidden = make_book(shop_app, "Carmilla", stock=0)
    set_hidden(shop_app, hidden)
    token = csrf_token(browser)
    for book in (hidden, 999_999):
        assert browser.client.post(f"/books/{book}/restock-wish", data={"csrf_token": token}).status_code == 404
    assert wishes(shop_app) == []
