"""The rules for a book's catalogue details, shared by the admin's form, the API and the seed.

Each check returns a sentence for the person who typed the value, or None
when it is fine, so every channel shows the same message.
"""

from __future__ import annotations

from datetime import UTC, datetime

from blasto.models.product import ISBN13_LENGTH

PAGES_MAX = 20_000  # beyond any bound book; keeps nonsense out of the page
YEAR_MIN = 1  # a classic's year of first publication may be long ago (BCE works are filed without one)
ISBN_PREFIXES = ("978", "979")  # every ISBN-13 is a Bookland EAN


def year_max() -> int:
    """Next year: a book announced for next year may already be listed."""
    return datetime.now(UTC).year + 1


def normalise_isbn(text: str) -> str:
    """The digits of an ISBN as typed with hyphens or spaces ("978-0-14-143951-8")."""
    return "".join(ch for ch in text if ch not in "- ")


def isbn13_problem(isbn: str) -> str | None:
    """Why `isbn` (already normalised) is not an ISBN-13, or None when it is one."""
    if len(isbn) != ISBN13_LENGTH or not (isbn.isascii() and isbn.isdigit()):
        return "Enter the 13 digits of the ISBN-13, like 978-0-14-143951-8 (hyphens and spaces are fine)."
    if not isbn.startswith(ISBN_PREFIXES):
        return "An ISBN-13 starts with 978 or 979."
    if isbn13_check_digit(isbn[:12]) != int(isbn[12]):
        return "This ISBN-13's check digit (the last digit) does not match: check for a typo."
    return None


def isbn13_check_digit(first_twelve: str) -> int:
    """The EAN-13 check digit: weights 1, 3, 1, 3, ... and the remainder to the next ten."""
    total = sum(int(digit) * (3 if position % 2 else 1) for position, digit in enumerate(first_twelve))
    return (10 - total % 10) % 10
