"""The front page, the catalogue (search and pages) and each book's page."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from flask import abort, render_template, request
from flask_login import current_user
from markupsafe import Markup

from blasto.models import Product
from blasto.models.base import ID_CONVERTER
from blasto.shop.also_bought import also_bought
from blasto.shop.catalog import (
    MAX_SEARCH_LENGTH,
    SORTS,
    FilterError,
    product_for_sale,
    read_filters,
    shop_page,
)
from blasto.shop.front_page import shelves
from blasto.shop.genres import GENRES
from blasto.shop.restock_wishes import is_waiting
from blasto.shop.shown_books import kept
from blasto.site import bp
from blasto.site.forms import AddToCartForm
from blasto.web.paging import Page, check_in_range, page_number

PER_PAGE = 12


@bp.get("/")
@bp.get("/home")
def home():
    """New books and best sellers, as they are now: most requests only render the layout."""
    return render_template("index.html", shelves_html=shelves_html(), max_search=MAX_SEARCH_LENGTH)


def shelves_html() -> Markup:
    """The shelves, rendered once per version of what cards show (they are the same for every visitor)."""
    data = shelves()
    return kept_html("_shelves.html", None, lambda: {"shelves": data}, keep=lambda _: data.available)


def kept_html(template: str, key: Hashable, context: Callable[[], dict], keep=lambda _: True) -> Markup:
    """`template` rendered with `context()`, kept per version of what cards show (blasto.shop.shown_books)."""

    def render() -> Markup:
        # render_template's output is already escaped (autoescaped .html template): Markup only stops a second escape.
        return Markup(render_template(template, **context()))  # nosec B704

    return kept(template, (request.script_root, key), render, keep=keep)


@bp.get("/books")
def catalog():
    """Search, genre, filters and sorting from the query string; bad values are a 400 saying which and why."""
    number = page_number()
    try:
        query = read_filters(request.args)
    except FilterError as error:
        return render_catalog(problems=error.problems), 400
    books, total, by_genre = shop_page(query, number, PER_PAGE)
    check_in_range(number, total, PER_PAGE)
    page = Page(items=books, number=number, per_page=PER_PAGE, total=total)
    return render_catalog(page=page, query=query, genre_counts=by_genre)


def render_catalog(**context) -> str:
    """The catalogue page; its filter form shows the values as typed, so a mistake can be corrected."""
    return render_template(
        "catalog.html",
        typed=request.args,
        genres=GENRES,
        sorts=SORTS,
        max_search=MAX_SEARCH_LENGTH,
        **{"page": None, "query": None, "genre_counts": {}, "problems": {}, **context},
    )


@bp.get(f"/books/<{ID_CONVERTER}:product_id>")
def book(product_id: int):
    product = product_for_sale(product_id)
    if product is None:  # hidden books are as absent as unknown ones
        abort(404, description="There is no such book in our catalogue.")
    return render_book(product, AddToCartForm(formdata=None, product_id=product.id, quantity=1))


def render_book(product: Product, form: AddToCartForm, status: int = 200):
    # Sold out: whether this shopper already waits for it (the page offers the wish, or its cancel).
    waiting = product.stock == 0 and current_user.is_authenticated and is_waiting(current_user.id, product.id)
    return render_template(
        "book.html", book=product, form=form, also_bought_html=also_bought_html(product.id), waiting=waiting
    ), status


def also_bought_html(book_id: int) -> Markup:
    """The book's "shoppers also bought" cards, rendered once per version of what cards show, as the shelves are."""
    return kept_html("_also_bought.html", book_id, lambda: {"also_bought": also_bought(book_id)})
