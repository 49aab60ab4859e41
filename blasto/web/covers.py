"""Where a book's cover is: its URLs and <img> attributes, for the site's pages and the API alike.

The route that serves them is the site's (blasto.site.covers); the URLs
carry the content's hash (blasto.shop.covers.cover_key), so they change
whenever the cover does.
"""

from __future__ import annotations

from flask import url_for

from blasto.shop.cover_images import WIDTHS, height_for
from blasto.shop.covers import cover_key


def _book_id(book) -> int:
    return book["id"] if isinstance(book, dict) else book.id


def cover_url(book, width: int = WIDTHS[0], external: bool = False) -> str:
    """The cover's URL at the size that fits `width` CSS pixels (the generated SVG fits any)."""
    kind, digest = cover_key(book)
    if kind == "art":
        return url_for("site.cover_art", book_id=_book_id(book), digest=digest, _external=external)
    size = WIDTHS[0] if width <= WIDTHS[0] else WIDTHS[1]
    return url_for("site.cover_image", book_id=_book_id(book), digest=digest, width=size, _external=external)


def cover_attributes(book, width: int = WIDTHS[0]) -> dict:
    """An <img>'s src, srcset, sizes, width and height for the cover shown `width` CSS pixels wide."""
    attributes: dict = {"src": cover_url(book, width), "width": width, "height": height_for(width)}
    if cover_key(book)[0] == "image":
        small, large = (cover_url(book, size) for size in WIDTHS)
        attributes["srcset"] = f"{small} {WIDTHS[0]}w, {large} {WIDTHS[1]}w"
        attributes["sizes"] = f"{width}px"
    return attributes
