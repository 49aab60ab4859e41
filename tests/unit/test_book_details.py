"""The rules for a book's details and the money a shopper types, and the sample catalogue that follows them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from blasto.models.product import FORMATS
from blasto.shop.book_details import isbn13_check_digit, isbn13_problem, normalise_isbn
from blasto.shop.catalog import search_words
from blasto.shop.genres import GENRES
from blasto.shop.money import dollars_text, parse_dollars
from blasto.shop.sample_books import BOOKS, DETAILS


@pytest.mark.parametrize("isbn", ["9780141439518", "9791090636071", "9780306406157", "9780000000002"])
def test_real_isbns_pass(isbn):
    assert isbn13_problem(isbn) is None


@pytest.mark.parametrize(
    "isbn, problem",
    [
        ("9780141439519", "check digit"),
        ("9780141439510", "check digit"),
        ("978014143951", "13 digits"),
        ("", "13 digits"),
        ("97801414395180", "13 digits"),
        ("978014143951a", "13 digits"),
        ("٩٧٨٠١٤١٤٣٩٥١٨", "13 digits"),  # Arabic-Indic digits are digits, but not an ISBN's
        ("1234567890128", "starts with 978 or 979"),
    ],
)
def test_anything_else_is_refused_with_its_reason(isbn, problem):
    assert problem in (isbn13_problem(isbn) or "")


def test_hyphens_and_spaces_are_dropped_and_the_check_digit_is_ean13s():
    assert normalise_isbn(" 978-0-14-143951-8 ") == "9780141439518"
    assert isbn13_check_digit("978030640615") == 7


@pytest.mark.parametrize(
    "text, cents", [("12.99", 1299), ("12", 1200), ("12.5", 1250), ("$1,250.00", 125000), (" 0 ", 0), ("0.01", 1)]
)
def test_dollars_as_typed_are_read_as_cents(text, cents):
    assert parse_dollars(text) == cents


@pytest.mark.parametrize("text", ["-1", "1.999", "1e3", "abc", "12,34", "NaN", "١٢", "", "$", "1.", ".5"])
def test_other_amounts_are_refused(text):
    with pytest.raises(ValueError):
        parse_dollars(text)


def test_cents_are_written_back_as_parse_dollars_reads_them():
    for cents in (0, 1, 99, 100, 1250, 123456):
        assert parse_dollars(dollars_text(cents)) == cents
    assert dollars_text(1200) == "12" and dollars_text(1250) == "12.50"


def test_search_words_are_letters_and_digits_lower_case_and_few():
    assert search_words("Pride & Prejudice's “BRONTË” 100%_wool") == [
        "pride",
        "prejudice",
        "s",
        "brontë",
        "100",
        "wool",
    ]
    assert search_words("%_\\'\"*") == []
    assert len(search_words(" ".join(["word"] * 50))) == 10


def test_every_sample_book_has_true_looking_details():
    assert {title for title, *_ in BOOKS} == set(DETAILS)
    this_year = datetime.now(UTC).year
    for title, (genre, year, pages, book_format) in DETAILS.items():
        assert genre in GENRES and book_format in FORMATS, title
        assert 1500 < year <= this_year and 0 < pages < 2000, title
