"""The front page, the catalogue's pages and search, and each book's page."""

import pytest

from blasto.shop.front_page import shelves
from tests.support.factories import make_book, make_purchase, make_user


@pytest.fixture
def thirty_books(shop_app):
    """Titles Book 01..Book 30 (12 per page: 3 pages), one by a different author."""
    ids = [
        make_book(shop_app, f"Book {n:02d}", "Ann Author" if n != 7 else "Zed Writer", stock=n % 4)
        for n in range(1, 31)
    ]
    return ids


def test_catalog_pages_through_books_in_title_order(browser, thirty_books):
    first = browser.get("/books")
    assert first.status == 200 and "30 books in the catalogue." in first.text
    assert "Book 01" in first.text and "Book 12" in first.text and "Book 13" not in first.text
    assert "Page 1 of 3" in first.text and 'href="/books?page=2"' in first.html and 'rel="prev"' not in first.html
    last = browser.get("/books?page=3")
    assert "Book 25" in last.text and "Book 30" in last.text and "Book 24" not in last.text
    assert 'rel="next"' not in last.html and 'href="/books?page=2"' in last.html


@pytest.mark.parametrize("page", ["0", "-1", "4", "99999999999999999999", "abc", "1.5", "", "²", "1e3", " "])
@pytest.mark.sweep
def test_pages_out_of_range_or_malformed_are_a_clear_404(browser, thirty_books, page):
    response = browser.client.get(f"/books?page={page}")
    body = response.get_data(as_text=True)
    assert response.status_code == 404 and "Traceback" not in body
    assert "Page numbers are whole numbers starting at 1." in body or "There is no page 4; the last page is 3." in body


def test_search_matches_title_or_author_case_insensitively_and_keeps_the_query_in_page_links(browser, thirty_books):
    page = browser.get("/books?q=ZED")
    assert "1 book matches “ZED”" in page.text and "Book 07" in page.text and "Book 08" not in page.text
    page = browser.get("/books?q=book")
    assert "30 books match “book”" in page.text and 'href="/books?page=2&amp;q=book"' in page.html
    page = browser.get("/books?q=book&page=3")
    assert "Book 30" in page.text
    page = browser.get("/books?q=%25_%5C")  # LIKE wildcards are matched literally
    assert "0 books match" in page.text and "See all books" in page.text
    assert browser.client.get("/books?q=" + "x" * 5000).status_code == 200


def test_book_page_shows_the_book_and_stock(shop_app, browser):
    emma = make_book(shop_app, "Emma", "Jane Austen", price_cents=1199, stock=4)
    sold_out = make_book(shop_app, "Villette", "Charlotte Brontë", stock=0)
    page = browser.get(f"/books/{emma}")
    assert (
        "Emma" in page.text and "by Jane Austen" in page.text and "$11.99" in page.text and "Only 4 left" in page.text
    )
    quantity = next(c for c in page.controls if c.get("name") == "quantity")
    assert quantity["max"] == "4" and quantity["min"] == "1"
    page = browser.get(f"/books/{sold_out}")
    assert "Sold out" in page.text and not page.has_form("/cart/add")


@pytest.mark.parametrize(
    "path",
    [
        "/books/999",
        "/books/0",
        "/books/-1",
        "/books/abc",
        "/books/1.5",
        "/books/99999999999999999999",
        "/purchases/abc",
    ],
)
@pytest.mark.sweep
def test_bad_ids_in_urls_are_404(shop_app, browser, path):
    make_book(shop_app)
    response = browser.client.get(path, follow_redirects=False)
    assert response.status_code == 404 and "Traceback" not in response.get_data(as_text=True)


def test_home_lists_new_books_and_best_sellers(shop_app, browser):
    old = make_book(shop_app, "Old Favourite", age_days=400)
    classic = make_book(shop_app, "Steady Classic", age_days=300)
    newest = [make_book(shop_app, f"New {n}", age_days=10 - n) for n in range(8)]
    buyer = make_user(shop_app)
    make_purchase(shop_app, buyer, {classic: 5, old: 2})
    make_purchase(shop_app, buyer, {old: 1, newest[0]: 1})
    # Ordered but not paid for, or given back: not sales, so not on the shelf.
    for status in ("awaiting_payment", "cancelled", "refunded"):
        make_purchase(shop_app, buyer, {newest[1]: 50}, status=status)
    make_purchase(shop_app, buyer, {newest[0]: 1}, status="shipped")

    page = browser.get("/home")
    new_section = page.html.split('id="new-books"')[1].split('id="best-sellers"')[0]
    best_section = page.html.split('id="best-sellers"')[1]
    assert "New 7" in new_section and "New 0" in new_section and "Old Favourite" not in new_section
    assert new_section.index("New 7") < new_section.index("New 0")  # newest first
    assert best_section.index("Steady Classic") < best_section.index("Old Favourite") < best_section.index("New 0")
    assert "New 1" not in best_section, "copies ordered but never paid for are not best sellers"
    assert browser.get("/").html.count("Steady Classic") == page.html.count("Steady Classic")


def test_home_shelves_are_kept_until_the_catalogue_changes(shop_app, browser):
    make_book(shop_app, "First Edition")
    assert "First Edition" in browser.get("/home").text
    with shop_app.test_request_context():
        assert shelves() is shelves()  # nothing changed: kept
    make_book(shop_app, "Second Edition")
    assert "Second Edition" in browser.get("/home").text  # at once, not after a TTL


def test_home_for_an_anonymous_visitor_sets_no_cookie(shop_app, browser):
    make_book(shop_app)
    for path in ("/home", "/"):
        response = browser.client.get(path)
        assert response.status_code == 200 and "Welcome to Blasto" in response.get_data(as_text=True)
        assert "Set-Cookie" not in response.headers
    assert browser.session_cookie() is None


def test_home_still_renders_when_the_catalogue_cannot_be_read(app_factory):
    app = app_factory()  # no migrations: the tables do not exist
    response = app.test_client().get("/home")
    assert response.status_code == 200 and "The shelves are being restocked" in response.get_data(as_text=True)
    with app.app_context():
        assert shelves().available is False
