"""Cover images at URLs that carry their content's hash, cached for a year.

A cover's URL changes whenever what it shows changes (a new upload, an
edited title or author for a generated cover), so a browser or CDN may keep
any answer for a year without asking again (`immutable`). An old or made-up
hash is a 404, never a stale image under a new name. Each request is one
query by primary key; the generated SVG is a few hundred bytes of text.
"""

from __future__ import annotations

from flask import Response, abort, request

from blasto.models.base import ID_CONVERTER
from blasto.shop.cover_art import art_digest, cover_svg
from blasto.shop.cover_images import WIDTHS
from blasto.shop.covers import cover_bytes, title_and_author
from blasto.site import bp
from blasto.web.covers import cover_attributes

YEAR_SECONDS = 365 * 24 * 60 * 60
IMMUTABLE = f"public, max-age={YEAR_SECONDS}, immutable"


def _cached(body: bytes | str, mimetype: str, etag: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Cache-Control"] = IMMUTABLE
    response.set_etag(etag)
    response.make_conditional(request)  # a 304 when the browser's ETag matches
    return response


@bp.get(f"/covers/<{ID_CONVERTER}:book_id>/<string:digest>-<int:width>.webp")
def cover_image(book_id: int, digest: str, width: int):
    body = cover_bytes(book_id, digest, width)
    if body is None:
        abort(404, description="There is no such cover.")
    return _cached(body, "image/webp", f"{digest}-{width}")


@bp.get(f"/covers/<{ID_CONVERTER}:book_id>/<string:digest>.svg")
def cover_art(book_id: int, digest: str):
    names = title_and_author(book_id)
    if names is None or art_digest(*names) != digest:
        abort(404, description="There is no such cover.")
    return _cached(cover_svg(*names), "image/svg+xml", digest)


@bp.app_template_global()
def cover(book, width: int = WIDTHS[0]) -> dict:
    """The <img> attributes of a book's cover shown `width` CSS pixels wide (src, srcset, width, height)."""
    return cover_attributes(book, width)
