"""A book's page: what it says about the stock, and the books shoppers paid for alongside it."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import text

from blasto.core.extensions import db
from blasto.models.purchase import ADMIN
from blasto.shop import orders as order_moves
from blasto.shop.also_bought import also_bought
from blasto.shop.availability import LOW_STOCK
from tests.functional.test_markup import check_markup
from tests.support.factories import make_book, make_purchase, make_user, set_hidden
from tests.support.form_browser import Page

CARD_TITLE = re.compile(r'class="book-card__title"><a href="/books/\d+">([^<]+)</a>')


def stock_words(page: Page) -> str:
    match = re.search(r'<p class="book__stock" id="book-stock"><span class="badge[^"]*">([^<]*)</span>', page.html)
    assert match, "the book page says nothing about its stock"
    return match[1]


def also_bought_titles(page: Page) -> list[str] | None:
    """The titles in "Shoppers also bought", in order; None when the page has no such section."""
    section = re.search(r'<section class="also-bought".*?</section>', page.html, re.DOTALL)
    return [html.unescape(title) for title in CARD_TITLE.findall(section[0])] if section else None


def catalogue_card(page: Page, title: str) -> str:
    """The text of the catalogue card of `title`."""
    for card in re.findall(r'<article class="book-card">.*?</article>', page.html, re.DOTALL):
        if f">{title}</a>" in card:
            return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card)).strip()
    raise AssertionError(f"no card for {title}")


@pytest.mark.parametrize(
    ("stock", "words", "quantity_max"),
    [
        (0, "Sold out", None),
        (2, "Only 2 left", "2"),
        (LOW_STOCK, f"Only {LOW_STOCK} left", str(LOW_STOCK)),
        (6, "In stock", "6"),
    ],
)
def test_the_book_page_says_sold_out_only_a_few_left_or_in_stock(shop_app, browser, stock, words, quantity_max):
    book = make_book(shop_app, "Emma", stock=stock)
    page = browser.get(f"/books/{book}")
    assert stock_words(page) == words
    if quantity_max is None:
        assert not page.has_form("/cart/add")
    else:
        quantity = next(c for c in page.controls if c.get("name") == "quantity")
        assert quantity["max"] == quantity_max, "the quantity is still capped at the stock"
    check_markup(page)


def test_catalogue_cards_say_the_stock_in_words_and_count_only_a_book_running_out(shop_app, browser):
    make_book(shop_app, "Emma", stock=2)
    make_book(shop_app, "Dracula", stock=6)
    make_book(shop_app, "Villette", stock=0)
    page = browser.get("/books")
    assert "Only 2 left" in catalogue_card(page, "Emma")
    assert "In stock" in catalogue_card(page, "Dracula") and "left" not in catalogue_card(page, "Dracula")
    assert "Sold out" in catalogue_card(page, "Villette")


def emmas_orders(app) -> dict[str, int]:
    """Emma's orders: Dracula in two paid ones, Persuasion in a shipped one, Villette only in unpaid,
    cancelled or refunded ones, Carmilla (hidden) in three paid ones, Ivanhoe in none with Emma."""
    books = {
        title: make_book(app, title) for title in ("Emma", "Dracula", "Persuasion", "Villette", "Carmilla", "Ivanhoe")
    }
    buyer = make_user(app)
    emma, dracula = books["Emma"], books["Dracula"]
    make_purchase(app, buyer, {emma: 1, dracula: 3}, status="paid")
    make_purchase(app, buyer, {emma: 2, dracula: 1}, status="paid")
    make_purchase(app, buyer, {emma: 1, books["Persuasion"]: 1}, status="shipped")
    for status in ("awaiting_payment", "cancelled", "cancelled", "refunded"):
        make_purchase(app, buyer, {emma: 1, books["Villette"]: 1}, status=status)
    for _ in range(3):
        make_purchase(app, buyer, {emma: 1, books["Carmilla"]: 1}, status="paid")
    make_purchase(app, buyer, {books["Ivanhoe"]: 1, dracula: 1}, status="paid")
    set_hidden(app, books["Carmilla"])
    return books


@pytest.fixture
def orders(shop_app) -> dict[str, int]:
    return emmas_orders(shop_app)


def test_shoppers_also_bought_counts_paid_orders_only_and_leaves_hidden_books_out(browser, orders):
    page = browser.get(f"/books/{orders['Emma']}")
    assert "Shoppers also bought" in page.text
    assert also_bought_titles(page) == ["Dracula", "Persuasion"]
    check_markup(page)


def test_the_section_is_absent_when_no_paid_order_holds_another_book(shop_app, browser, orders):
    villette = browser.get(f"/books/{orders['Villette']}")  # with Emma, but in no paid order
    assert also_bought_titles(villette) is None and "Shoppers also bought" not in villette.text
    alone = make_book(shop_app, "Shirley")
    make_purchase(shop_app, make_user(shop_app, email="solo@example.com"), {alone: 2}, status="paid")
    assert also_bought_titles(browser.get(f"/books/{alone}")) is None


def test_each_order_counts_once_ties_go_by_title_and_at_most_four_are_shown(shop_app, browser):
    emma = make_book(shop_app, "Emma")
    others = {
        title: make_book(shop_app, title) for title in ("Sybil", "Beulah", "Adam Bede", "Zuleika", "Lorna", "Kim")
    }
    buyer = make_user(shop_app)
    make_purchase(shop_app, buyer, {emma: 1, others["Zuleika"]: 1})
    make_purchase(shop_app, buyer, {emma: 1, others["Zuleika"]: 1})
    make_purchase(shop_app, buyer, {emma: 1, others["Sybil"]: 9})  # many copies, one order
    make_purchase(shop_app, buyer, {emma: 1, others["Beulah"]: 1, others["Adam Bede"]: 1, others["Lorna"]: 1})
    make_purchase(shop_app, buyer, {emma: 1, others["Kim"]: 1})
    page = browser.get(f"/books/{emma}")
    assert also_bought_titles(page) == ["Zuleika", "Adam Bede", "Beulah", "Kim"]


def test_the_query_gives_the_same_answer_on_postgres(pg_app):
    books = emmas_orders(pg_app)
    with pg_app.app_context():
        assert [book["title"] for book in also_bought(books["Emma"])] == ["Dracula", "Persuasion"]
        assert [book["title"] for book in also_bought(books["Dracula"])] == ["Emma", "Ivanhoe"]
        assert also_bought(books["Villette"]) == []
        db.session.rollback()


def test_the_row_follows_payments_and_refunds_at_once_and_reads_the_books_fresh(shop_app, browser, orders):
    emma, ivanhoe = orders["Emma"], orders["Ivanhoe"]
    assert also_bought_titles(browser.get(f"/books/{emma}")) == ["Dracula", "Persuasion"]
    buyer = make_user(shop_app, email="later@example.com")
    placed = [make_purchase(shop_app, buyer, {emma: 1, ivanhoe: 1}, status="awaiting_payment") for _ in range(3)]
    assert also_bought_titles(browser.get(f"/books/{emma}")) == ["Dracula", "Persuasion"], "not paid yet"
    with shop_app.app_context():
        for order in placed:
            order_moves.move(order, order_moves.PAY, ADMIN)
    assert also_bought_titles(browser.get(f"/books/{emma}")) == ["Ivanhoe", "Dracula", "Persuasion"]
    with shop_app.app_context():
        for order in placed[:2]:
            order_moves.move(order, order_moves.CANCEL, ADMIN)  # refunded: no longer a sale
    assert also_bought_titles(browser.get(f"/books/{emma}")) == ["Dracula", "Ivanhoe", "Persuasion"]
    set_hidden(shop_app, orders["Dracula"])  # a hidden book leaves the row at once
    with shop_app.app_context():
        db.session.execute(text("UPDATE products SET stock = 2 WHERE id = :id"), {"id": orders["Persuasion"]})
        db.session.commit()
    page = browser.get(f"/books/{emma}")
    assert also_bought_titles(page) == ["Ivanhoe", "Persuasion"]
    assert "Only 2 left" in re.sub(r"<[^>]+>", " ", page.html.split('class="also-bought"')[1]), "stock read fresh"
