"""Money is integer cents; only templates and JSON `*_display` fields see dollars."""

import re

CURRENCY = "USD"
_DOLLARS = re.compile(r"\$?(?P<dollars>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,12})(?:\.(?P<cents>[0-9]{1,2}))?")
_TOO_PRECISE = re.compile(r"\$?[0-9,]+\.[0-9]{3,}")


def parse_dollars(text: str) -> int:
    """Dollars as people type them ("12.99", "12", "12.5", "$12.99", "1,250.00") in integer cents.

    No float ever sees the amount. Raises ValueError with one sentence for the
    person who typed it: signs, exponents, more than two decimals and
    anything else are refused.
    """
    text = text.strip()
    match = _DOLLARS.fullmatch(text)
    if match is None:
        if text.lstrip("$").startswith("-"):
            raise ValueError("Enter an amount of $0.00 or more.")
        if _TOO_PRECISE.fullmatch(text):
            raise ValueError("Enter at most two decimal places (whole cents).")
        raise ValueError("Enter an amount in dollars, like 12.99.")
    return int(match["dollars"].replace(",", "")) * 100 + int((match["cents"] or "0").ljust(2, "0"))


def dollars_text(cents: int) -> str:
    """Cents as `parse_dollars` reads them back: "12", "12.50" (for links and form fields)."""
    dollars, remainder = divmod(cents, 100)
    return f"{dollars}.{remainder:02d}" if remainder else str(dollars)


def format_cents(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    dollars, remainder = divmod(abs(int(cents)), 100)
    return f"{sign}${dollars:,}.{remainder:02d}"


def line_total(unit_price_cents: int, quantity: int) -> int:
    return unit_price_cents * quantity


def order_total(lines) -> int:
    """Sum of (unit_price_cents, quantity) pairs; exact for any size."""
    return sum(line_total(price, quantity) for price, quantity in lines)
