"""Money is integer cents; only templates and JSON `*_display` fields see dollars."""

CURRENCY = "USD"


def format_cents(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    dollars, remainder = divmod(abs(int(cents)), 100)
    return f"{sign}${dollars:,}.{remainder:02d}"


def line_total(unit_price_cents: int, quantity: int) -> int:
    return unit_price_cents * quantity


def order_total(lines) -> int:
    """Sum of (unit_price_cents, quantity) pairs; exact for any size."""
    return sum(line_total(price, quantity) for price, quantity in lines)
