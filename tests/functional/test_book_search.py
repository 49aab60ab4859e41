"""Search on /books and GET /api/v1/products, on SQLite (FTS5) and on Postgres (full text, trigrams): the same answers.

Case and accents are ignored, every word must match somewhere in the title,
author or description, the best match comes first, and on Postgres a typo
still finds the book.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from blasto.core.extensions import db
from blasto.models import Product
from tests.support.api_client import ApiClient
from tests.support.factories import make_book, set_hidden
from tests.support.form_browser import Browser, Page
from tests.support.report_databases import postgres_config


@pytest.fixture
def shop(database, app_factory):
    """An app on a migrated SQLite or Postgres database, with a few classics."""
    app = app_factory(**(postgres_config(database) if database else {}))
    books = {
        "Jane Eyre": ("Charlotte Brontë", "A governess with a will of iron and a secret in the attic at Thornfield."),
        "Wuthering Heights": ("Emily Brontë", "Heathcliff and Catherine, and the moors that hold their passion."),
        "Pride and Prejudice": ("Jane Austen", "Elizabeth Bennet meets the proud Mr Darcy."),
        "Emma": ("Jane Austen", "A clever young woman arranges everyone's marriages."),
        "Moby-Dick": ("Herman Melville", "Captain Ahab hunts the white whale across every ocean."),
        "The Whale Road": ("Ann Sailor", "Poems of the northern sea."),
        "Les Misérables": ("Victor Hugo", "Jean Valjean and a lifetime of mercy."),
    }
    app.ids = {title: make_book(app, title, author, description=text) for title, (author, text) in books.items()}
    yield app
    with app.app_context():
        db.engine.dispose()


def found(page: Page) -> list[str]:
    return re.findall(r'<h2 class="book-card__title"><a href="/books/\d+">([^<]+)</a>', page.html)


def search(app, text: str) -> list[str]:
    page = Browser(app.test_client()).get("/books", query_string={"q": text})
    assert page.status == 200, page.text
    return found(page)


def test_case_and_accents_are_ignored(shop):
    assert sorted(search(shop, "bronte")) == ["Jane Eyre", "Wuthering Heights"]
    assert sorted(search(shop, "BRONTË")) == ["Jane Eyre", "Wuthering Heights"]
    assert search(shop, "miserables") == ["Les Misérables"]
    assert search(shop, "MISÉRABLES") == ["Les Misérables"]


def test_every_word_must_match_across_title_author_and_description(shop):
    assert search(shop, "pride austen") == ["Pride and Prejudice"]
    assert search(shop, "austen pride") == ["Pride and Prejudice"]
    assert sorted(search(shop, "austen")) == ["Emma", "Pride and Prejudice"]
    assert search(shop, "pride dickens") == []


def test_a_word_of_the_description_finds_the_book(shop):
    assert search(shop, "governess") == ["Jane Eyre"]
    assert search(shop, "thornfield attic") == ["Jane Eyre"]


def test_a_word_may_be_the_start_of_one(shop):
    assert search(shop, "wuther") == ["Wuthering Heights"]


def test_a_title_match_ranks_before_a_description_match(shop):
    assert search(shop, "whale") == ["The Whale Road", "Moby-Dick"]  # the title's first, though M sorts before T
    assert search(shop, "jane")[0] == "Jane Eyre"  # title before the two books by Jane Austen


def test_hidden_books_are_not_found(shop):
    set_hidden(shop, shop.ids["Emma"])
    assert search(shop, "austen") == ["Pride and Prejudice"]


def test_a_changed_title_is_searched_at_once(shop):
    with shop.app_context():
        db.session.execute(update(Product).where(Product.id == shop.ids["Emma"]).values(title="Emma Revisited"))
        db.session.commit()
    assert search(shop, "revisited") == ["Emma Revisited"]
    assert search(shop, "clever") == ["Emma Revisited"]


def test_punctuation_alone_is_looked_for_as_typed(shop):
    make_book(shop, "100% Cotton_Wool", author="Someone")
    assert search(shop, "%") == ["100% Cotton_Wool"]
    assert search(shop, "_") == ["100% Cotton_Wool"]
    assert search(shop, "'\"*():-") == []


@pytest.mark.parametrize("text", ["½", "Ⅻ ǅ ß ﬁ", "a'b", "ａｂｃ", "x" * 100, "o " * 50, "١٢٣", "\u0301e"])
@pytest.mark.sweep
def test_unusual_letters_and_long_searches_never_fail(shop, text):
    search(shop, text)  # a 200 with whatever it found


@pytest.mark.parametrize("typo, title", [("prejudise", "Pride and Prejudice"), ("melvile", "Moby-Dick")])
def test_a_typo_finds_the_book_on_postgres(shop, database, typo, title):
    """Postgres falls back to trigram similarity; SQLite has no typo tolerance and says it found nothing."""
    if database is None:
        page = Browser(shop.test_client()).get("/books", query_string={"q": typo})
        assert found(page) == [] and "0 books match" in page.text
    else:
        assert search(shop, typo) == [title]
        assert search(shop, f"pride {typo}" if title.startswith("Pride") else f"herman {typo}") == [title]


def test_the_api_searches_the_same_way(shop):
    with shop.app_context():
        api = ApiClient(shop)
        user = api.user("reader@example.com")
        body = api.get("/api/v1/products?q=BRONTË", user).get_json()
        assert sorted(item["title"] for item in body["items"]) == ["Jane Eyre", "Wuthering Heights"]
        assert [i["title"] for i in api.get("/api/v1/products?q=pride%20austen", user).get_json()["items"]] == [
            "Pride and Prejudice"
        ]
        assert [i["title"] for i in api.get("/api/v1/products?q=whale", user).get_json()["items"]] == [
            "The Whale Road",
            "Moby-Dick",
        ]
        assert api.get("/api/v1/products?q=whale&sort=title", user).get_json()["items"][0]["title"] == "Moby-Dick"
