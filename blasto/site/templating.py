"""What every template can use: money formatting, dates, the cart's size, the layout's links."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import url_for

from blasto.shop.money import format_cents
from blasto.site import bp
from blasto.site.cart import cart_size


@bp.app_template_filter("money")
def money(cents: int) -> str:
    return format_cents(cents)


@bp.app_template_filter("when")
def when(moment: datetime) -> str:
    """Dates are shown in UTC, stated as such, so no one guesses the zone."""
    return moment.astimezone(timezone.utc).strftime("%d %b %Y, %H:%M UTC")


LAYOUT_ENDPOINTS = {
    "css": ("static", {"filename": "css/site.css"}),
    "home": ("site.home", {}),
    "catalog": ("site.catalog", {}),
    "cart": ("site.cart", {}),
    "purchases": ("site.purchases", {}),
    "login": ("site.login", {}),
    "signup": ("site.signup", {}),
    "logout": ("site.logout", {}),
    "api": ("api.home", {}),
    "api_docs": ("api_docs.page", {}),
    "admin_outbox": ("admin.outbox", {}),
    "admin_books": ("admin.books", {}),
    "admin_purchases": ("admin.purchases", {}),
    "admin_reports": ("admin.reports", {}),
}


def layout_links() -> dict[str, str]:
    return {name: url_for(endpoint, **values) for name, (endpoint, values) in LAYOUT_ENDPOINTS.items()}


@bp.app_context_processor
def shop_context() -> dict:
    # Reading the session does not write a cookie: anonymous pages stay cacheable.
    return {"cart_count": cart_size(), "links": layout_links()}
