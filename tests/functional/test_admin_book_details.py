"""Admins set a book's catalogue details (genre, format, publisher, year, pages, ISBN-13) through the real forms."""

from __future__ import annotations

import re

import pytest

from blasto.core.extensions import db
from blasto.models import Product
from tests.functional.test_markup import check_markup
from tests.support.factories import count, make_book
from tests.support.form_browser import Page

GOOD = {
    "title": "Pride and Prejudice",
    "author": "Jane Austen",
    "description": "Elizabeth Bennet meets Mr Darcy.",
    "price": "12.99",
    "stock": "4",
    "genre": "romance",
    "format": "hardcover",
    "publisher": "Blasto Classics",
    "year_published": "1813",
    "pages": "432",
    "isbn13": "978-0-14-143951-8",
}
DETAILS = ("genre", "format", "publisher", "year_published", "pages", "isbn13")


def field_error(page: Page, field_id: str) -> str:
    match = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">([^<]*)</p>', page.html)
    return match[1].replace("&#39;", "'") if match else ""


def details(app, book_id: int) -> dict:
    with app.app_context():
        book = db.session.get(Product, book_id)
        return {name: getattr(book, name) for name in DETAILS}


def test_an_admin_adds_a_book_with_its_details_and_edits_them(shop_app, admin):
    page = admin.get("/admin/books/new")
    check_markup(page)
    page = admin.submit(page, "/admin/books/new", GOOD)
    assert "Added “Pride and Prejudice”" in page.text
    book = int(re.search(r"Book #(\d+)", page.text)[1])
    assert details(shop_app, book) == {
        "genre": "romance",
        "format": "hardcover",
        "publisher": "Blasto Classics",
        "year_published": 1813,
        "pages": 432,
        "isbn13": "9780141439518",  # hyphens dropped
    }
    form = page.form(f"/admin/books/{book}/edit")
    assert form.value("isbn13") == "9780141439518" and form.value("genre") == "romance"
    check_markup(page)
    page = admin.submit(
        page,
        f"/admin/books/{book}/edit",
        {"genre": "", "format": "", "publisher": " ", "year_published": "", "pages": "", "isbn13": "979 10 90636 07 1"},
    )
    assert "Saved" in page.text
    assert details(shop_app, book) == dict.fromkeys(DETAILS[:5]) | {"isbn13": "9791090636071"}  # blank is none


BAD = [
    ("isbn13", "9780141439519", "check digit (the last digit) does not match"),
    ("isbn13", "978014143951", "Enter the 13 digits of the ISBN-13"),
    ("isbn13", "97801414395188", "Enter the 13 digits of the ISBN-13"),
    ("isbn13", "0141439513", "Enter the 13 digits of the ISBN-13"),
    ("isbn13", "978014143951X", "Enter the 13 digits of the ISBN-13"),
    ("isbn13", "１２３４５６７８９０１２３", "Enter the 13 digits of the ISBN-13"),  # full-width digits
    ("isbn13", "1234567890128", "An ISBN-13 starts with 978 or 979."),
    ("year_published", "0", "Enter the year the book was first published, from 1 to"),
    ("year_published", "3000", "Enter the year the book was first published, from 1 to"),
    ("year_published", "1813.5", "Enter a whole number."),
    ("pages", "0", "Enter a number of pages from 1 to 20,000."),
    ("pages", "-3", "Enter a number of pages from 1 to 20,000."),
    ("pages", "many", "Enter a whole number."),
    ("genre", "westerns", "Choose a genre from the list."),
    ("format", "scroll", "Choose a format from the list."),
    ("publisher", "p" * 201, "Use at most 200 characters."),
    ("publisher", "Bad\x07Press", "Remove the control characters"),
]


@pytest.mark.parametrize("name, value, message", BAD, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(BAD)])
@pytest.mark.sweep
def test_a_bad_detail_is_refused_next_to_its_field(shop_app, admin, name, value, message):
    page = admin.submit(admin.get("/admin/books/new"), "/admin/books/new", {**GOOD, name: value})
    assert page.status == 400 and "Nothing was saved" in page.text
    assert message in field_error(page, name), page.text
    assert count(shop_app, Product) == 0
    check_markup(page)
    if name in ("isbn13", "year_published", "pages"):  # what was typed comes back, to be corrected
        assert page.form("/admin/books/new").value(name) in (value, value.strip())


def test_the_list_shows_each_books_genre(shop_app, admin):
    make_book(shop_app, "Walden", genre="philosophy")
    make_book(shop_app, "Emma")
    page = admin.get("/admin/books")
    assert re.search(r"<td data-label=\"Genre\">Philosophy</td>", page.html)
    assert re.search(r"<td data-label=\"Genre\">—</td>", page.html)


def test_a_bad_isbn_on_an_edit_changes_nothing(shop_app, admin):
    book = make_book(shop_app, "Emma", isbn13="9780141439587")
    page = admin.get(f"/admin/books/{book}/edit")
    page = admin.submit(page, f"/admin/books/{book}/edit", {"title": "Emma, again", "isbn13": "9780141439588"})
    assert page.status == 400 and "check digit" in field_error(page, "isbn13")
    with shop_app.app_context():
        row = db.session.get(Product, book)
        assert (row.title, row.isbn13) == ("Emma", "9780141439587")
