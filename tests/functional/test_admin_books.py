"""Admins manage the catalogue through the real forms: add, edit, restock, hide, show again."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from blasto.core.extensions import db
from blasto.models import Product, Purchase
from tests.functional.test_markup import check_markup
from tests.support.factories import book_row, count, make_admin, make_book, make_user, set_hidden, stock_of
from tests.support.form_browser import Browser, Page, log_in, race

ROUNDS = 4
GOOD = {
    "title": "Middlemarch",
    "author": "George Eliot",
    "description": "A study of provincial life.",
    "price": "14.50",
    "stock": "7",
}


def field_error(page: Page, field_id: str) -> str:
    """The error shown next to a field (linked to it by aria-describedby), or ''."""
    match = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">([^<]*)</p>', page.html)
    return match[1] if match else ""


def csrf_token(browser: Browser) -> str:
    return browser.get("/admin/books").form("/logout").value("csrf_token")


def set_stock(app, product_id: int, stock: int) -> None:
    """Someone else's change (a checkout, another admin), straight to the database."""
    with app.app_context():
        db.session.execute(update(Product).where(Product.id == product_id).values(stock=stock))
        db.session.commit()


# --- the list -----------------------------------------------------------------


def test_the_list_shows_every_book_hidden_ones_marked(shop_app, admin):
    emma = make_book(shop_app, "Emma")
    gone = make_book(shop_app, "Dracula", author="Bram Stoker")
    set_hidden(shop_app, gone)
    page = admin.get("/admin/books")
    assert page.status == 200
    assert "Emma" in page.text and "Dracula" in page.text and "2 books in the catalogue" in page.text
    row = re.search(rf'<tr id="book-{gone}" class="is-hidden">(.*?)</tr>', page.html, re.S)
    assert row and "Hidden" in row[1] and "Show again" in row[1]
    assert "Hide" in re.search(rf'<tr id="book-{emma}">(.*?)</tr>', page.html, re.S)[1]
    check_markup(page)


def test_the_list_searches_titles_and_authors_and_pages(shop_app, admin):
    for n in range(30):
        make_book(shop_app, f"Volume {n:02d}", author="Ann Author" if n % 2 else "Bob Writer")
    hidden = make_book(shop_app, "Zanzibar Secrets", author="Bob Writer")
    set_hidden(shop_app, hidden)
    assert "1 book matches" in admin.get("/admin/books?q=zanzibar").text
    by_author = admin.get("/admin/books?q=bob+writer")
    assert "16 books match" in by_author.text and "Zanzibar Secrets" in by_author.text
    first = admin.get("/admin/books")
    assert "Page 1 of 2" in first.text and 'rel="next" href="/admin/books?page=2"' in first.html
    second = admin.get("/admin/books?page=2")
    assert "Zanzibar Secrets" in second.text and "Volume 00" not in second.text
    assert admin.get("/admin/books?page=3").status == 404
    assert admin.get("/admin/books?page=x").status == 404
    assert admin.get("/admin/books?q=%00").status == 200


# --- create -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "cents"),
    [("14.50", 1450), ("12", 1200), ("12.5", 1250), ("$1,250.00", 125000), ("0", 0), (" 9.99 ", 999)],
)
def test_an_admin_adds_a_book_with_the_price_in_cents(shop_app, admin, typed, cents):
    page = admin.submit(admin.get("/admin/books/new"), "/admin/books/new", {**GOOD, "price": typed})
    assert page.status == 200 and "Added “Middlemarch” to the catalogue." in page.text
    (book_id,) = re.findall(r"/admin/books/(\d+)/edit", page.response.request.path)
    assert book_row(shop_app, int(book_id)) == {
        "title": "Middlemarch",
        "author": "George Eliot",
        "description": "A study of provincial life.",
        "price_cents": cents,
        "stock": 7,
        "hidden": False,
    }
    assert "Middlemarch" in admin.get("/books").text  # on sale at once


BAD_BOOKS = [
    ("price", "12.999", "Enter at most two decimal places (whole cents)."),
    ("price", "-5", "Enter an amount of $0.00 or more."),
    ("price", "-0.01", "Enter an amount of $0.00 or more."),
    ("price", "100000.01", "Enter an amount from $0.00 to $100,000.00."),
    ("price", "99999999999999999999", "Enter an amount in dollars, like 12.99."),
    ("price", "abc", "Enter an amount in dollars, like 12.99."),
    ("price", "1e3", "Enter an amount in dollars, like 12.99."),
    ("price", "12,34", "Enter an amount in dollars, like 12.99."),
    ("price", "NaN", "Enter an amount in dollars, like 12.99."),
    ("price", "١٢", "Enter an amount in dollars, like 12.99."),
    ("price", "", "Please enter the price."),
    ("stock", "-1", "Choose from 0 to 1,000,000."),
    ("stock", "1000001", "Choose from 0 to 1,000,000."),
    ("stock", "2.5", "Enter a whole number."),
    ("stock", "many", "Enter a whole number."),
    ("stock", "", "Please enter the number of copies in stock."),
    ("title", "", "Please enter the title."),
    ("title", "   ", "Please enter the title."),
    ("title", "x" * 201, "Use at most 200 characters."),
    ("title", "Bad\x00Title", "Remove the control characters"),
    ("author", "", "Please enter the author."),
    ("author", "a" * 201, "Use at most 200 characters."),
    ("description", "d" * 5001, "Use at most 5,000 characters."),
]


@pytest.mark.parametrize(
    ("name", "value", "message"), BAD_BOOKS, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(BAD_BOOKS)]
)
@pytest.mark.sweep
def test_a_bad_new_book_is_refused_next_to_its_field_and_nothing_is_written(shop_app, admin, name, value, message):
    page = admin.submit(admin.get("/admin/books/new"), "/admin/books/new", {**GOOD, name: value})
    assert page.status == 400
    assert message in field_error(page, name), page.text
    assert "Nothing was saved" in page.text and count(shop_app, Product) == 0
    check_markup(page)


def test_exactly_200_characters_and_the_limits_are_accepted(shop_app, admin):
    data = {**GOOD, "title": "t" * 200, "author": "a" * 200, "price": "100000.00", "stock": "1000000"}
    page = admin.submit(admin.get("/admin/books/new"), "/admin/books/new", data)
    assert "Added" in page.text
    row = book_row(shop_app, 1)
    assert row["price_cents"] == 10_000_000 and row["stock"] == 1_000_000 and len(row["title"]) == 200


# --- edit ---------------------------------------------------------------------


def test_an_admin_edits_a_book(shop_app, admin):
    emma = make_book(shop_app, "Emma", price_cents=1199, stock=5)
    page = admin.get(f"/admin/books/{emma}/edit")
    assert page.form(f"/admin/books/{emma}/edit").value("price") == "11.99"
    check_markup(page)
    page = admin.submit(
        page,
        f"/admin/books/{emma}/edit",
        {"title": "Emma (Penguin)", "price": "9.5", "description": "New edition.", "stock": "8"},
    )
    assert "Saved “Emma (Penguin)”." in page.text
    assert book_row(shop_app, emma) == {
        "title": "Emma (Penguin)",
        "author": "Jane Austen",
        "description": "New edition.",
        "price_cents": 950,
        "stock": 8,
        "hidden": False,
    }


def test_editing_the_title_keeps_a_sale_made_meanwhile(shop_app, admin):
    """The form still shows 5 copies, but a checkout took 2: saving the title must not put them back."""
    emma = make_book(shop_app, "Emma", stock=5)
    page = admin.get(f"/admin/books/{emma}/edit")
    set_stock(shop_app, emma, 3)
    page = admin.submit(page, f"/admin/books/{emma}/edit", {"title": "Emma, a novel"})
    assert "Saved" in page.text
    assert book_row(shop_app, emma)["title"] == "Emma, a novel" and stock_of(shop_app, emma) == 3


def test_changing_a_stock_that_moved_meanwhile_saves_nothing_and_says_why(shop_app, admin):
    emma = make_book(shop_app, "Emma", stock=5)
    page = admin.get(f"/admin/books/{emma}/edit")
    set_stock(shop_app, emma, 3)
    page = admin.submit(page, f"/admin/books/{emma}/edit", {"title": "Renamed", "stock": "4"})
    assert page.status == 409
    assert "The stock changed to 3 while you were editing" in field_error(page, "stock")
    assert book_row(shop_app, emma)["title"] == "Emma" and stock_of(shop_app, emma) == 3  # nothing half-written
    page.status = 400  # check_markup knows 200/400/404; a 409 is the same form with its errors
    check_markup(page)
    # The form now carries the new count: the admin decides again, and it saves.
    assert page.form(f"/admin/books/{emma}/edit").value("stock_seen") == "3"
    page = admin.submit(page, f"/admin/books/{emma}/edit", {"stock": "4"})
    assert "Saved “Renamed”." in page.text and stock_of(shop_app, emma) == 4


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("price", "12.999", "whole cents"),
        ("price", "-1", "$0.00 or more"),
        ("stock", "-1", "Choose from 0"),
        ("stock", "x", "whole number"),
        ("title", "", "Please enter the title."),
        ("author", "a" * 201, "at most 200"),
    ],
)
def test_a_bad_edit_changes_nothing(shop_app, admin, name, value, message):
    emma = make_book(shop_app, "Emma", price_cents=1199, stock=5)
    before = book_row(shop_app, emma)
    page = admin.submit(
        admin.get(f"/admin/books/{emma}/edit"), f"/admin/books/{emma}/edit", {"title": "Changed", name: value}
    )
    assert page.status == 400 and message in field_error(page, name)
    assert book_row(shop_app, emma) == before


def test_a_tampered_stock_seen_is_refused(shop_app, admin):
    emma = make_book(shop_app, "Emma", stock=5)
    page = admin.submit(
        admin.get(f"/admin/books/{emma}/edit"), f"/admin/books/{emma}/edit", {"stock_seen": "lots", "title": "X"}
    )
    assert page.status == 400 and book_row(shop_app, emma)["title"] == "Emma"


# --- restock ------------------------------------------------------------------


def test_restock_adds_copies(shop_app, admin):
    emma = make_book(shop_app, "Emma", stock=5)
    page = admin.get(f"/admin/books/{emma}/edit")
    set_stock(shop_app, emma, 2)  # a sale between showing the form and pressing the button
    page = admin.submit(page, f"/admin/books/{emma}/restock", {"copies": "10"})
    assert "Added 10 copies of “Emma”: 12 in stock." in page.text and stock_of(shop_app, emma) == 12
    page = admin.submit(page, f"/admin/books/{emma}/restock", {"copies": "1"})
    assert "Added 1 copy of “Emma”: 13 in stock." in page.text


@pytest.mark.parametrize(
    ("copies", "message"),
    [
        ("0", "Choose from 1 to 100,000."),
        ("-3", "Choose from 1 to 100,000."),
        ("100001", "Choose from 1 to 100,000."),
        ("1.5", "Enter a whole number."),
        ("ten", "Enter a whole number."),
        ("", "Please enter how many copies arrived."),
        ("9" * 40, "Enter a whole number."),
    ],
)
@pytest.mark.sweep
def test_a_bad_restock_is_refused_next_to_its_field(shop_app, admin, copies, message):
    emma = make_book(shop_app, "Emma", stock=5)
    page = admin.submit(admin.get(f"/admin/books/{emma}/edit"), f"/admin/books/{emma}/restock", {"copies": copies})
    assert page.status == 400 and message in field_error(page, "restock-copies")
    assert stock_of(shop_app, emma) == 5
    check_markup(page)


def test_restock_never_passes_the_stock_limit(shop_app, admin):
    emma = make_book(shop_app, "Emma", stock=950_000)
    page = admin.submit(admin.get(f"/admin/books/{emma}/edit"), f"/admin/books/{emma}/restock", {"copies": "60000"})
    assert page.status == 400 and "add at most 50,000" in field_error(page, "restock-copies")
    assert stock_of(shop_app, emma) == 950_000


# --- hide and show ------------------------------------------------------------


def test_hide_and_show_again_from_the_list_and_the_edit_page(shop_app, admin):
    emma = make_book(shop_app, "Emma")
    page = admin.get("/admin/books?q=emm")
    page = admin.submit(page, f"/admin/books/{emma}/hide")
    assert page.response.request.path == "/admin/books" and "q=emm" in page.response.request.url
    assert "“Emma” is hidden" in page.text and book_row(shop_app, emma)["hidden"] is True
    assert "Emma" not in admin.get("/books").text

    page = admin.get(f"/admin/books/{emma}/edit")
    assert "Hidden" in page.text and not page.has_form(f"/admin/books/{emma}/hide")
    page = admin.submit(page, f"/admin/books/{emma}/show")
    assert "“Emma” is for sale again." in page.text and book_row(shop_app, emma)["hidden"] is False
    assert "Emma" in admin.get("/books").text


def test_hide_never_redirects_off_site(shop_app, admin):
    emma = make_book(shop_app, "Emma")
    response = admin.client.post(
        f"/admin/books/{emma}/hide", data={"csrf_token": csrf_token(admin), "next": "//evil.example/"}
    )
    assert response.status_code == 303 and response.headers["Location"] == f"/admin/books/{emma}/edit"


# --- ids, CSRF, who may come in -------------------------------------------------


POSTS = [
    "/admin/books/new",
    "/admin/books/{id}/edit",
    "/admin/books/{id}/restock",
    "/admin/books/{id}/hide",
    "/admin/books/{id}/show",
]
GETS = ["/admin/books", "/admin/books/new", "/admin/books/{id}/edit"]


def test_unknown_books_are_404s(shop_app, admin):
    token = csrf_token(admin)
    assert admin.get("/admin/books/999/edit").status == 404
    assert admin.get("/admin/books/99999999999/edit").status == 404
    for path in POSTS[1:]:
        response = admin.client.post(
            path.format(id=999), data={"csrf_token": token, **GOOD, "copies": "1", "stock_seen": "7"}
        )
        assert response.status_code == 404, path
    assert count(shop_app, Product) == 0


def test_every_post_needs_its_csrf_token(shop_app, admin):
    emma = make_book(shop_app, "Emma", stock=5)
    before = book_row(shop_app, emma)
    for path in POSTS:
        url = path.format(id=emma)
        response = admin.client.post(url, data={**GOOD, "copies": "3", "stock_seen": "5"})
        if response.status_code == 303:  # a page showing its own form: back to it, "Your session expired"
            assert response.headers["Location"] == url, path
        else:
            assert response.status_code == 400, path
            assert "did not come from this site" in response.get_data(as_text=True)
    assert book_row(shop_app, emma) == before and count(shop_app, Product) == 1


def test_shoppers_get_404_on_every_admin_url(shop_app, shopper):
    browser, _ = shopper
    emma = make_book(shop_app, "Emma", stock=5)
    before = book_row(shop_app, emma)
    token = browser.get("/home").form("/logout").value("csrf_token")
    for path in [*GETS, "/admin/purchases", "/admin/purchases/1"]:
        assert browser.client.get(path.format(id=emma)).status_code == 404, path
    for path in POSTS:
        response = browser.client.post(
            path.format(id=emma), data={"csrf_token": token, **GOOD, "copies": "3", "stock_seen": "5"}
        )
        assert response.status_code == 404, path
    assert book_row(shop_app, emma) == before and count(shop_app, Product) == 1
    home = browser.get("/home")
    assert "/admin/books" not in home.html and "/admin/purchases" not in home.html


def test_visitors_are_sent_to_log_in(shop_app, browser):
    emma = make_book(shop_app, "Emma", stock=5)
    token = browser.get("/login").form("/login").value("csrf_token")
    for path in GETS:
        response = browser.client.get(path.format(id=emma))
        assert response.status_code in (302, 303) and response.headers["Location"].startswith("/login"), path
    for path in POSTS:
        response = browser.client.post(path.format(id=emma), data={"csrf_token": token, **GOOD, "copies": "3"})
        assert response.status_code in (302, 303) and response.headers["Location"].startswith("/login"), path
    assert stock_of(shop_app, emma) == 5 and count(shop_app, Product) == 1


def test_admins_see_the_admin_links(shop_app, admin):
    home = admin.get("/home")
    assert 'href="/admin"' in home.html and 'href="/admin/books"' not in home.html  # one link in the shop's menu
    dashboard = admin.get("/admin")
    assert (
        'href="/admin/books"' in dashboard.html
        and 'href="/admin/purchases"' in dashboard.html
        and 'href="/admin/outbox"' in dashboard.html
    )
    check_markup(admin.get("/admin/books/new"))


# --- a restock racing checkouts, on Postgres ----------------------------------------


def test_restocks_racing_checkouts_keep_every_change(pg_app):
    """Each round, three shoppers buy 2 copies while three admins add 5 each, all at once."""
    book = make_book(pg_app, "Racing Stripes", stock=10)
    shoppers, admins = [], []
    for n in range(3):
        make_user(pg_app, email=f"buyer{n}@example.com", name=f"Buyer {n}")
        shoppers.append(Browser(pg_app.test_client()))
        log_in(shoppers[-1], f"buyer{n}@example.com")
        make_admin(pg_app, email=f"admin{n}@example.com")
        admins.append(Browser(pg_app.test_client()))
        log_in(admins[-1], f"admin{n}@example.com")
    expected = 10
    for round_number in range(ROUNDS):
        posts = []
        for shopper, admin in zip(shoppers, admins):
            shopper.submit(shopper.get(f"/books/{book}"), "/cart/add", {"quantity": "2"})
            posts.append((shopper, "/checkout", shopper.get("/checkout").form("/checkout").data()))
            restock_form = admin.get(f"/admin/books/{book}/edit").form(f"/admin/books/{book}/restock")
            posts.append((admin, f"/admin/books/{book}/restock", restock_form.data({"copies": "5"})))
        statuses = race(posts)
        assert all(status == 303 for status, _ in statuses), statuses
        assert sum(where.startswith("/purchases/") for _, where in statuses) == 3, statuses
        expected += 3 * 5 - 3 * 2
        assert stock_of(pg_app, book) == expected, f"round {round_number + 1}"
    assert count(pg_app, Purchase) == 3 * ROUNDS
