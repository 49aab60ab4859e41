"""What every page's layout uses: the cart's size and the layout's links (the filters: blasto.web.templating)."""

from __future__ import annotations

from typing import Any, cast

from flask import url_for

from blasto.site import bp
from blasto.site.cart import cart_size

LAYOUT_ENDPOINTS: dict[str, tuple[str, dict[str, Any]]] = {
    "home": ("site.home", {}),
    "catalog": ("site.catalog", {}),
    "cart": ("site.cart", {}),
    "purchases": ("site.purchases", {}),
    "account": ("site.account", {}),
    "login": ("site.login", {}),
    "signup": ("site.signup", {}),
    "logout": ("site.logout", {}),
    "api": ("api.home", {}),
    "api_docs": ("api_docs.page", {}),
    "admin": ("admin.home", {}),
}


def layout_links() -> dict[str, str]:
    return {
        name: url_for(endpoint, **cast(dict[str, Any], values)) for name, (endpoint, values) in LAYOUT_ENDPOINTS.items()
    }


@bp.app_context_processor
def shop_context() -> dict:
    # Reading the session does not write a cookie: anonymous pages stay cacheable.
    return {"cart_count": cart_size(), "links": layout_links()}
