"""Template filters that pages and e-mails share, registered by the factory.

The worker renders receipts with them too, so they belong to the app, not to
a blueprint that a worker would otherwise have to import.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask

from blasto.shop.money import format_cents


def when(moment: datetime) -> str:
    """Dates are shown in UTC, stated as such, so no one guesses the zone."""
    return moment.astimezone(UTC).strftime("%d %b %Y, %H:%M UTC")


def register_template_filters(app: Flask) -> None:
    app.add_template_filter(format_cents, "money")
    app.add_template_filter(when, "when")
