"""Template filters that pages and e-mails share, registered by the factory.

The worker renders receipts with them too, so they belong to the app, not to
a blueprint that a worker would otherwise have to import.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask

from blasto.core.shipping_settings import COUNTRY_NAMES
from blasto.models.product import FORMATS
from blasto.shop.availability import availability
from blasto.shop.genres import genre_label
from blasto.shop.money import format_cents


def when(moment: datetime) -> str:
    """Dates are written in UTC, stated as such; static/js/local-times.js shows them in the browser's zone."""
    return moment.astimezone(UTC).strftime("%d %b %Y, %H:%M UTC")


def number(value: int) -> str:
    """A count as people read it: 12,345."""
    return f"{int(value):,}"


# The causes of an order's moves (blasto.shop.orders), as people read them.
CAUSE_LABELS = {
    "shopper": "by the shopper",
    "admin": "by the shop",
    "provider": "by the payment provider",
    "timeout": "not paid in time",
}


def readable(name: str | None) -> str:
    """An order state or shipping option as people read it (`awaiting_payment` -> Awaiting payment)."""
    return (name or "").replace("_", " ").capitalize()


def cause_label(cause: str) -> str:
    return CAUSE_LABELS.get(cause, cause)


def country_name(code: str | None) -> str:
    return COUNTRY_NAMES.get(code or "", code or "")


def format_label(key: str | None) -> str:
    """A book's format as people read it (`ebook` -> E-book)."""
    return FORMATS.get(key or "", key or "")


def register_template_filters(app: Flask) -> None:
    app.add_template_filter(genre_label, "genre")
    app.add_template_filter(format_label, "book_format")
    app.add_template_filter(country_name, "country")
    app.add_template_filter(readable, "shipping")
    app.add_template_filter(format_cents, "money")
    app.add_template_filter(when, "when")
    app.add_template_filter(number, "number")
    app.add_template_filter(readable, "status")
    app.add_template_filter(cause_label, "cause")
    app.add_template_filter(availability, "availability")
