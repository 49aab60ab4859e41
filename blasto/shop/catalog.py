"""Catalogue queries shared by the pages, the API and the admin: search, genres, filters, sorting.

`FOR_SALE` is the one definition of what shoppers may see and buy (a book
not hidden); every shopper-facing read of products goes through it, here or
in the checkout's UPDATE. The admin lists every book (`for_sale=False`).

Search ignores case and accents, needs every word (each may be the start of
one) somewhere in the title, author or description, and ranks title
matches above author matches above description matches. Per database:
- Postgres: full-text search over `blasto_search_document` (GIN-indexed,
  migrations 0014-0015) ranked by ts_rank; when that finds nothing, trigram
  similarity of each word to the title and author (`pg_trgm`), so one typo
  ("prejudise", "melvile") still finds the book.
- SQLite: its FTS5 table `products_search`, ranked by bm25. SQLite has no
  typo tolerance.
A search with no letter or digit in it ("%", "_") is matched literally
inside titles and authors instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from sqlalchemy import (
    ColumnElement,
    Select,
    column,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
)

from blasto.core.extensions import db
from blasto.models import Product
from blasto.shop.genres import GENRES
from blasto.shop.money import dollars_text, parse_dollars

MAX_SEARCH_LENGTH = 100
MAX_SEARCH_WORDS = 10  # a search is a few words; more only costs the database
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # Postgres refuses NUL in a parameter; none belong in a search
_WORD = re.compile(r"[^\W_]+")  # letters and digits: what both databases' tokenizers keep

FOR_SALE = Product.hidden == false()
# What a book card shows (the shelves, the catalogue, "shoppers also bought"): read as columns, kept as dicts.
CARD_COLUMNS = (Product.id, Product.title, Product.author, Product.price_cents, Product.stock, Product.cover_digest)


def read_cards(statement: Select) -> list[dict]:
    """The rows of a statement that selects CARD_COLUMNS, as the plain dicts the card templates take."""
    return [row._asdict() for row in db.session.execute(statement)]


# The orders a shopper can ask for; without one, the best match comes first when searching, else the title.
NEW, BEST_SELLING, PRICE, PRICE_DESC, TITLE = "new", "best-selling", "price", "price-desc", "title"
SORTS = {
    NEW: "Newest first",
    BEST_SELLING: "Best-selling",
    PRICE: "Price, low to high",
    PRICE_DESC: "Price, high to low",
    TITLE: "Title",
}
IN_STOCK_VALUES = {"1": True, "true": True, "on": True, "0": False, "false": False, "": False}

# Full text on Postgres (the functions of migration 0014, indexed by 0015 with these very expressions).
_DOCUMENT = func.blasto_search_document(Product.title, Product.author, Product.description)
_NAMES = func.blasto_search_names(Product.title, Product.author)
_SIMPLE: ColumnElement = literal_column("'pg_catalog.simple'::regconfig")
# SQLite's FTS5 table (migration 0014): rowid is the product's id.
_FTS = table("products_search", column("rowid"))
_FTS_TABLE: ColumnElement = literal_column("products_search")
TITLE_WEIGHT, AUTHOR_WEIGHT, DESCRIPTION_WEIGHT = 10.0, 4.0, 1.0  # bm25's column weights


@dataclass(frozen=True)
class CatalogQuery:
    """What a shopper asked the catalogue for; every field already checked (`read_filters`)."""

    search: str = ""
    genre: str | None = None
    sort: str | None = None
    in_stock: bool = False
    min_cents: int | None = None
    max_cents: int | None = None
    stock_below: int | None = None  # the admin's low-stock list (not a shopper's filter: not in query_args)

    def query_args(self) -> dict[str, str]:
        """The query as URL parameters, for links that keep it (page links, genre links)."""
        args = {
            "q": self.search,
            "genre": self.genre or "",
            "sort": self.sort or "",
            "in_stock": "1" if self.in_stock else "",
            "min_price": dollars_text(self.min_cents) if self.min_cents is not None else "",
            "max_price": dollars_text(self.max_cents) if self.max_cents is not None else "",
        }
        return {name: value for name, value in args.items() if value}

    def in_genre(self, genre: str | None) -> CatalogQuery:
        return replace(self, genre=genre)


class FilterError(ValueError):
    """Bad catalogue parameters: {parameter: a sentence saying what to change}."""

    def __init__(self, problems: dict[str, str]):
        super().__init__(" ".join(problems.values()))
        self.problems = problems


def read_filters(args: Mapping[str, str]) -> CatalogQuery:
    """A CatalogQuery from query-string parameters, or FilterError naming every bad one."""
    problems: dict[str, str] = {}
    genre = args.get("genre", "").strip()
    if genre and genre not in GENRES:
        problems["genre"] = genre_problem(genre)
    sort = args.get("sort", "").strip()
    if sort and sort not in SORTS:
        problems["sort"] = sort_problem(sort)
    in_stock = IN_STOCK_VALUES.get(args.get("in_stock", "").strip().lower())
    if in_stock is None:
        problems["in_stock"] = "Use in_stock=1 for books in stock only, or leave it out."
    prices: dict[str, int | None] = {}
    for name in ("min_price", "max_price"):
        text = args.get(name, "").strip()
        try:
            prices[name] = parse_dollars(text) if text else None
        except ValueError as exc:
            problems[name] = f"{PRICE_NAMES[name]}: {exc}"
    problem = price_range_problem(prices.get("min_price"), prices.get("max_price"))
    if problem:
        problems["max_price"] = problem
    if problems:
        raise FilterError(problems)
    return CatalogQuery(
        search=clean_search(args.get("q")),
        genre=genre or None,
        sort=sort or None,
        in_stock=bool(in_stock),
        min_cents=prices["min_price"],
        max_cents=prices["max_price"],
    )


PRICE_NAMES = {"min_price": "Lowest price", "max_price": "Highest price"}


def genre_problem(genre: str) -> str:
    return f"There is no genre “{clean_search(genre)[:40]}”. Choose one of: {', '.join(GENRES)}."


def sort_problem(sort: str) -> str:
    return f"Books cannot be sorted by “{clean_search(sort)[:40]}”. Sort by one of: {', '.join(SORTS)}."


def price_range_problem(low: int | None, high: int | None) -> str | None:
    if low is not None and high is not None and low > high:
        return "The highest price is below the lowest; swap them."
    return None


def clean_search(text: str | None) -> str:
    """A search as typed, without control characters, trimmed to the longest we search for."""
    return _CONTROL.sub(" ", text or "").strip()[:MAX_SEARCH_LENGTH]


def search_words(search: str) -> list[str]:
    """The words a search looks for: letters and digits, lower case, the first MAX_SEARCH_WORDS."""
    return _WORD.findall(search.lower())[:MAX_SEARCH_WORDS]


def catalog_page(query: CatalogQuery, page: int, per_page: int, for_sale: bool = True) -> tuple[list[Product], int]:
    """One page of the books `query` asks for, in its order, and how many there are in all."""
    statement = filtered(query, for_sale)
    total = _count(statement)
    if total == 0 and _typos_worth_trying(query):
        statement = filtered(query, for_sale, typos=True)
        total = _count(statement)
    return _page_of(statement, total, page, per_page), total


def shop_page(query: CatalogQuery, page: int, per_page: int) -> tuple[list[dict], int, dict[str, int]]:
    """The catalogue page: `catalog_page` for sale, as cards, and for each genre with books how many the query finds in it.

    The genre links keep the query's other filters. One grouped count gives
    both the total and the genre counts, so the page takes two statements.
    A card needs six columns, read as plain rows, not whole books.
    """
    counts = _genre_totals(query, typos=False)
    if not counts and _typos_worth_trying(query):
        counts = _genre_totals(query, typos=True)
        statement = filtered(query, typos=True)
    else:
        statement = filtered(query)
    total = counts.get(query.genre, 0) if query.genre else sum(counts.values())
    by_genre = {genre: counts[genre] for genre in GENRES if counts.get(genre)}
    window = _window(statement.with_only_columns(*CARD_COLUMNS, maintain_column_froms=True), total, page, per_page)
    return (read_cards(window) if window is not None else []), total, by_genre


def _count(statement: Select) -> int:
    return db.session.execute(select(func.count()).select_from(statement.order_by(None).subquery())).scalar_one()


def _page_of(statement: Select, total: int, page: int, per_page: int) -> list[Product]:
    window = _window(statement, total, page, per_page)
    return list(db.session.scalars(window)) if window is not None else []


def _window(statement: Select, total: int, page: int, per_page: int) -> Select | None:
    """The page's rows of `statement`; None past the last page (the caller answers 404), without asking."""
    offset = (page - 1) * per_page
    return statement.limit(per_page).offset(offset) if offset < total else None


def _genre_totals(query: CatalogQuery, typos: bool) -> dict[str | None, int]:
    """How many books for sale the query, without its genre, finds in each genre (None: not filed under one)."""
    books = filtered(query.in_genre(None), for_sale=True, typos=typos)
    # The same FROM and WHERE with only the genre: no subquery of every column to build and compile each time.
    counts = books.with_only_columns(Product.genre, func.count(), maintain_column_froms=True).group_by(Product.genre)
    return dict(db.session.execute(counts.order_by(None)).all())


def _typos_worth_trying(query: CatalogQuery) -> bool:
    """Postgres found no book with every word: it tries again, tolerating a typo (pg_trgm)."""
    return bool(search_words(query.search)) and db.session.get_bind().dialect.name == "postgresql"


def filtered(query: CatalogQuery, for_sale: bool = True, typos: bool = False) -> Select:
    """The books `query` finds, ordered as it asks: the one place search, filters and sorting meet."""
    statement = select(Product).where(FOR_SALE) if for_sale else select(Product)
    if query.genre:
        statement = statement.where(Product.genre == query.genre)
    if query.in_stock:
        statement = statement.where(Product.stock > 0)
    if query.stock_below is not None:
        statement = statement.where(Product.stock < query.stock_below)
    if query.min_cents is not None:
        statement = statement.where(Product.price_cents >= query.min_cents)
    if query.max_cents is not None:
        statement = statement.where(Product.price_cents <= query.max_cents)
    statement, relevance = matching(statement, query.search, typos)
    return sorted_by(statement, query.sort, relevance)


def matching(statement: Select, search: str, typos: bool = False) -> tuple[Select, list[ColumnElement]]:
    """`statement` narrowed to the search, and the ORDER BY that puts the best match first.

    On Postgres, full text; with `typos`, trigram similarity instead (the
    callers try it when full text found nothing).
    """
    if not search:
        return statement, []
    words = search_words(search)
    if not words:  # only punctuation: look for it as typed
        pattern = f"%{escape_like(search.lower())}%"
        return statement.where(
            or_(
                func.lower(Product.title).like(pattern, escape="\\"),
                func.lower(Product.author).like(pattern, escape="\\"),
            )
        ), []
    if db.session.get_bind().dialect.name != "postgresql":
        match = (
            select(
                _FTS.c.rowid.label("id"),
                func.bm25(_FTS_TABLE, TITLE_WEIGHT, AUTHOR_WEIGHT, DESCRIPTION_WEIGHT).label("rank"),
            )
            .select_from(_FTS)
            .where(_FTS_TABLE.op("MATCH")(fts5_query(words)))
            .subquery()
        )
        return statement.join(match, match.c.id == Product.id), [match.c.rank]  # bm25: lower is better
    if not typos:
        tsquery = postgres_tsquery(words)
        return statement.where(_DOCUMENT.op("@@")(tsquery)), [func.ts_rank(_DOCUMENT, tsquery).desc()]
    similar = [func.blasto_unaccent(literal(word)).op("<%")(_NAMES) for word in words]
    closeness: ColumnElement = func.word_similarity(func.blasto_unaccent(literal(words[0])), _NAMES)
    for word in words[1:]:
        closeness = closeness + func.word_similarity(func.blasto_unaccent(literal(word)), _NAMES)
    return statement.where(*similar), [closeness.desc()]


def postgres_tsquery(words: list[str]) -> ColumnElement:
    """Every word, each as a prefix, accents removed as in the document.

    Each word is quoted after unaccent, since unaccent may turn a letter into
    punctuation that to_tsquery would read as syntax ("½" -> "1/2").
    """
    query: ColumnElement | None = None
    for word in words:
        prefix = func.quote_literal(func.blasto_unaccent(literal(word))).concat(":*")
        query = prefix if query is None else query.concat(" & ").concat(prefix)
    return func.to_tsquery(_SIMPLE, query)


def fts5_query(words: list[str]) -> str:
    """FTS5's form of the same: every word as a quoted prefix (words hold no quote)."""
    return " AND ".join(f'"{word}"*' for word in words)


def sorted_by(statement: Select, sort: str | None, relevance: list[ColumnElement]) -> Select:
    if sort == NEW:
        return statement.order_by(Product.created_at.desc(), Product.id.desc())
    if sort == PRICE:
        return statement.order_by(Product.price_cents, Product.title, Product.id)
    if sort == PRICE_DESC:
        return statement.order_by(Product.price_cents.desc(), Product.title, Product.id)
    if sort == BEST_SELLING:  # copies paid for, not merely ordered (blasto.shop.sales_counts)
        return statement.order_by(Product.copies_sold.desc(), Product.title, Product.id)
    if sort == TITLE:
        return statement.order_by(Product.title, Product.id)
    return statement.order_by(*relevance, Product.title, Product.id)


def product_for_sale(product_id: int) -> Product | None:
    """The book, or None when it does not exist or is hidden: to shoppers, the same thing."""
    return db.session.scalar(select(Product).where(Product.id == product_id, FOR_SALE))


def escape_like(text: str) -> str:
    """`text` matched literally inside a LIKE pattern with `escape="\\"`."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def books_for_sale(product_ids) -> set[int]:
    """Which of these books shoppers can still see (a past purchase may name a hidden one)."""
    ids = set(product_ids)
    if not ids:
        return set()
    return set(db.session.scalars(select(Product.id).where(Product.id.in_(ids), FOR_SALE)))
