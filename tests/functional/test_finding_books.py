"""Finding a book on /books: genres with counts, sorting, filters, page links that keep them, and bad values."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.functional.test_markup import check_markup
from tests.support.factories import make_book, make_purchase, make_user
from tests.support.form_browser import Page


@pytest.fixture
def shelf(shop_app):
    """Six books over three genres, prices and ages apart, one sold out, one never filed under a genre."""
    books = {
        "Leaves of Grass": dict(author="Walt Whitman", genre="poetry", price_cents=1299, stock=10, age_days=50),
        "The Raven": dict(author="Edgar Allan Poe", genre="poetry", price_cents=499, stock=0, age_days=40),
        "Songs of Innocence": dict(author="William Blake", genre="poetry", price_cents=899, stock=3, age_days=30),
        "Dracula": dict(author="Bram Stoker", genre="horror", price_cents=1199, stock=25, age_days=20),
        "Walden": dict(author="Henry David Thoreau", genre="philosophy", price_cents=999, stock=15, age_days=10),
        "Unfiled": dict(author="Anon", genre=None, price_cents=100, stock=1, age_days=5),
    }
    return {title: make_book(shop_app, title, **details) for title, details in books.items()}


def titles(page: Page) -> list[str]:
    """The books listed, in order."""
    return re.findall(r'<h2 class="book-card__title"><a href="/books/\d+">([^<]+)</a>', page.html)


def genre_links(page: Page) -> dict[str, str]:
    """Each genre link's text -> its URL."""
    nav = page.html.split('aria-label="Genres"')[1].split("</nav>")[0]
    return {
        html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text))).strip(): href
        for href, text in re.findall(r'<a href="([^"]+)"[^>]*>(.*?)</a>', nav)
    }


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url.replace("&amp;", "&")).query)


def test_genres_are_links_with_their_counts_and_browse_by_genre(browser, shelf):
    page = browser.get("/books")
    assert page.status == 200
    check_markup(page)
    links = genre_links(page)
    assert links == {
        "All genres": "/books",
        "Horror & Gothic (1)": "/books?genre=horror",
        "Poetry (3)": "/books?genre=poetry",
        "Philosophy (1)": "/books?genre=philosophy",
    }
    poetry = browser.get(links["Poetry (3)"])
    assert poetry.status == 200 and "<h1>Poetry</h1>" in poetry.html and "3 books in Poetry." in poetry.text
    assert titles(poetry) == ["Leaves of Grass", "Songs of Innocence", "The Raven"]
    assert 'aria-current="page">Poetry' in poetry.html
    assert browser.get("/books?genre=science").text.count("0 books in Science.") == 1  # a genre with no books yet


def test_genre_counts_follow_the_search_and_filters(browser, shelf):
    page = browser.get("/books?in_stock=1&max_price=10")
    assert set(genre_links(page)) == {"All genres", "Poetry (1)", "Philosophy (1)"}  # The Raven is sold out
    assert query_of(genre_links(page)["Poetry (1)"]) == {"genre": ["poetry"], "in_stock": ["1"], "max_price": ["10"]}


@pytest.mark.parametrize(
    "sort, expected",
    [
        ("", ["Dracula", "Leaves of Grass", "Songs of Innocence", "The Raven", "Unfiled", "Walden"]),
        ("title", ["Dracula", "Leaves of Grass", "Songs of Innocence", "The Raven", "Unfiled", "Walden"]),
        ("new", ["Unfiled", "Walden", "Dracula", "Songs of Innocence", "The Raven", "Leaves of Grass"]),
        ("price", ["Unfiled", "The Raven", "Songs of Innocence", "Walden", "Dracula", "Leaves of Grass"]),
        ("price-desc", ["Leaves of Grass", "Dracula", "Walden", "Songs of Innocence", "The Raven", "Unfiled"]),
    ],
)
def test_sorting(browser, shelf, sort, expected):
    page = browser.get(f"/books?sort={sort}")
    assert page.status == 200 and titles(page) == expected
    if sort:
        assert f'<option value="{sort}" selected>' in page.html


def test_best_selling_counts_copies_paid_for(shop_app, browser, shelf):
    buyer = make_user(shop_app)
    make_purchase(shop_app, buyer, {shelf["Walden"]: 3, shelf["Dracula"]: 1})
    make_purchase(shop_app, buyer, {shelf["Dracula"]: 1}, status="shipped")
    make_purchase(shop_app, buyer, {shelf["The Raven"]: 50}, status="awaiting_payment")  # ordered, not sold
    make_purchase(shop_app, buyer, {shelf["Unfiled"]: 50}, status="refunded")
    page = browser.get("/books?sort=best-selling")
    assert titles(page)[:2] == ["Walden", "Dracula"]
    assert titles(page)[2:] == ["Leaves of Grass", "Songs of Innocence", "The Raven", "Unfiled"]  # none sold: by title


def test_filters_in_stock_and_price_range_in_dollars(browser, shelf):
    assert "The Raven" not in titles(browser.get("/books?in_stock=1"))
    page = browser.get("/books?min_price=8.99&max_price=$11.99")
    assert titles(page) == ["Dracula", "Songs of Innocence", "Walden"]  # both ends included
    assert titles(browser.get("/books?genre=poetry&in_stock=1&min_price=5")) == [
        "Leaves of Grass",
        "Songs of Innocence",
    ]
    assert 'name="min_price" value="8.99"' in page.html and 'name="max_price" value="$11.99"' in page.html  # as typed


def test_page_links_keep_every_parameter(shop_app, browser):
    for n in range(1, 27):
        make_book(shop_app, f"Ode {n:02d}", author="Poet", genre="poetry", price_cents=500 + n, stock=1)
    make_book(shop_app, "Ode 99", author="Poet", genre="poetry", price_cents=500, stock=0)
    page = browser.get("/books?q=ode&genre=poetry&sort=price-desc&in_stock=1&min_price=5.01&max_price=6")
    assert "26 books match “ode” in Poetry." in page.text and titles(page)[0] == "Ode 26"
    following = re.search(r'<a rel="next" href="([^"]+)"', page.html)[1]
    assert query_of(following) == {
        "page": ["2"],
        "q": ["ode"],
        "genre": ["poetry"],
        "sort": ["price-desc"],
        "in_stock": ["1"],
        "min_price": ["5.01"],
        "max_price": ["6"],
    }
    second = browser.get(following.replace("&amp;", "&"))
    last = browser.get(re.search(r'<a rel="next" href="([^"]+)"', second.html)[1].replace("&amp;", "&"))
    assert titles(last) == ["Ode 02", "Ode 01"] and "Page 3 of 3" in last.text


BAD = [
    ("genre=westerns", "genre", "There is no genre “westerns”."),
    (
        "sort=cheapest",
        "sort",
        "Books cannot be sorted by “cheapest”. Sort by one of: new, best-selling, price, price-desc, title.",
    ),
    ("in_stock=maybe", "in_stock", "Use in_stock=1"),
    ("min_price=-5", "min_price", "Lowest price: Enter an amount of $0.00 or more."),
    ("max_price=abc", "max_price", "Highest price: Enter an amount in dollars, like 12.99."),
    ("min_price=1.999", "min_price", "at most two decimal places"),
    ("min_price=1e3", "min_price", "Enter an amount in dollars"),
    ("max_price=99999999999999999999", "max_price", "Enter an amount in dollars"),
    ("min_price=20&max_price=10", "max_price", "The highest price is below the lowest; swap them."),
    ("genre=%00", "genre", "There is no genre"),
]


@pytest.mark.parametrize("query, name, message", BAD, ids=[b[0] for b in BAD])
@pytest.mark.sweep
def test_bad_values_are_a_400_saying_what_to_change(browser, shelf, query, name, message):
    page = browser.get(f"/books?{query}")
    assert page.status == 400 and "Traceback" not in page.html
    problem = re.search(rf'<li id="problem-{name}">([^<]*)</li>', page.html)
    assert problem and message in problem[1].replace("&#34;", '"'), page.text
    assert "See all books" in page.text and not titles(page)
    check_markup(page)


def test_several_bad_values_are_all_named(browser, shelf):
    page = browser.get("/books?genre=x&sort=y&min_price=z")
    assert page.status == 400
    assert all(f'id="problem-{name}"' in page.html for name in ("genre", "sort", "min_price"))


def test_the_book_page_shows_its_details(shop_app, browser):
    book = make_book(
        shop_app,
        "Pride and Prejudice",
        genre="romance",
        format="paperback",
        pages=432,
        publisher="Blasto Classics",
        year_published=1813,
        isbn13="9780141439518",
    )
    page = browser.get(f"/books/{book}")
    details = page.html.split('class="book__details"')[1].split("</dl>")[0]
    for label, value in [
        ("Genre", "Romance"),
        ("Format", "Paperback"),
        ("Pages", "432"),
        ("Publisher", "Blasto Classics"),
        ("First published", "1813"),
        ("ISBN-13", "9780141439518"),
    ]:
        assert re.search(rf"<dt>{label}</dt><dd[^>]*>(<a [^>]+>)?{value}<", details), label
    assert 'href="/books?genre=romance"' in details
    check_markup(page)
    bare = browser.get(f"/books/{make_book(shop_app, 'Emma')}")  # no details: no empty list
    assert bare.status == 200 and "book__details" not in bare.html
