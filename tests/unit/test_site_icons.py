"""The shop's icons: /favicon.ico where browsers ask for it, and the icons every page links."""

from __future__ import annotations

import re

from blasto.site.icons import FAVICON_MAX_AGE
from blasto.web.static_assets import STATIC_DIR, YEAR_CACHE

DAY_SECONDS = 24 * 60 * 60


def linked(page: str, rel: str) -> list[str]:
    return re.findall(rf'<link rel="{rel}" href="([^"]+)"', page)


def test_favicon_ico_answers_with_the_icon_and_a_long_cache(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/vnd.microsoft.icon"
    assert response.data == (STATIC_DIR / "img" / "favicon.ico").read_bytes()
    assert response.data[:4] == b"\x00\x00\x01\x00", "an ICO file's header"
    assert response.cache_control.public and response.cache_control.max_age == FAVICON_MAX_AGE >= 7 * DAY_SECONDS
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    again = client.get("/favicon.ico", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_every_page_links_the_svg_icon_and_the_apple_touch_icon_under_hashed_names(client):
    page = client.get("/home").get_data(as_text=True)
    assert linked(page, "icon")[0] == "/favicon.ico"
    (svg,) = [url for url in linked(page, "icon") if url.endswith(".svg")]
    (touch,) = linked(page, "apple-touch-icon")
    for url, mimetype in ((svg, "image/svg+xml"), (touch, "image/png")):
        assert re.fullmatch(r"/static/img/[a-z-]+\.[0-9a-f]{12}\.(svg|png)", url), url
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == mimetype, url
        assert response.headers["Cache-Control"] == YEAR_CACHE
    png = client.get(touch).data
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") == int.from_bytes(png[20:24], "big") == 180, "180x180 pixels"
