"""/favicon.ico at the site's root: browsers ask for it there whatever the page's <link>s say.

The page links the SVG icon and the apple-touch-icon under their hashed /static
names (cached a year); this fixed name cannot carry a hash, so it is cached a
week, long enough to spare the requests, short enough for a new icon to show.
"""

from __future__ import annotations

from flask import send_file

from blasto.site import bp
from blasto.web.static_assets import STATIC_DIR

FAVICON = STATIC_DIR / "img" / "favicon.ico"
FAVICON_MAX_AGE = 7 * 24 * 60 * 60  # seconds


@bp.get("/favicon.ico")
def favicon():
    return send_file(FAVICON, mimetype="image/vnd.microsoft.icon", max_age=FAVICON_MAX_AGE)
