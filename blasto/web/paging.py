"""Page numbers from the query string, and what a template needs to link pages.

A page that is not a positive whole number, or past the last page, is a 404
with a message saying so: clear to people, and no giant OFFSET reaches the
database (SQLite cannot bind integers past 2**63).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, request

MAX_PAGE_DIGITS = 9


def page_number(name: str = "page") -> int:
    raw = request.args.get(name, "1").strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_PAGE_DIGITS or int(raw) < 1:
        abort(404, description="Page numbers are whole numbers starting at 1.")
    return int(raw)


@dataclass(frozen=True)
class Page:
    items: list
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return last_page(self.total, self.per_page)

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def last_page(total: int, per_page: int) -> int:
    """Page 1 always exists, even when empty."""
    return max(1, -(-total // per_page))


def check_in_range(number: int, total: int, per_page: int) -> None:
    """404 past the last page."""
    pages = last_page(total, per_page)
    if number > pages:
        abort(404, description=f"There is no page {number}; the last page is {pages}.")
