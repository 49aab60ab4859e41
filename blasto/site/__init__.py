"""The shop's HTML pages: front page, catalogue, cart, checkout, purchases and accounts.

One blueprint, `site`, split into modules by what the pages do. Every form
posts with a CSRF token (CSRFProtect is app-wide); every redirect after a
POST is a 303.
"""

from flask import Blueprint

bp = Blueprint("site", __name__)

from blasto.site import (  # noqa: E402,F401  (routes attach to bp)
    account,
    auth,
    cart,
    catalog,
    covers,
    icons,
    orders,
    password_reset,
    restock_wishes,
    templating,
)
