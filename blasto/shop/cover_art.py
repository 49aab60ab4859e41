"""The cover a book shows until it has an uploaded one: an SVG typeset from its title and author.

Nothing is downloaded or stored: the SVG is made on request from two
columns, and its URL carries a hash of the title and author (`art_digest`),
so an edit gives it a new URL while an unchanged book is cached for a year.
The colours come from the title's hash: the same book always looks the same,
neighbours on a shelf differ. Every piece of text is escaped for XML (a
title may hold <, & or quotes) and characters XML cannot carry are dropped.
"""

from __future__ import annotations

import hashlib
import re
import textwrap
from html import escape

WIDTH, HEIGHT = 200, 300  # the 2:3 of the uploaded covers' sizes (blasto.shop.cover_images)
ART_VERSION = "1"  # part of the digest: a change of design here gives every generated cover a new URL
TITLE_LINES, TITLE_CHARS = 6, 14
AUTHOR_LINES, AUTHOR_CHARS = 2, 22
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def art_digest(title: str, author: str) -> str:
    """16 hex digits that change whenever the title, the author or the design does."""
    return hashlib.sha256(f"{ART_VERSION}\x00{title}\x00{author}".encode()).hexdigest()[:16]


def _lines(text: str, width: int, most: int) -> list[str]:
    lines = textwrap.wrap(" ".join(text.split()), width=width, break_long_words=True) or [""]
    if len(lines) > most:
        lines = lines[:most]
        lines[-1] = lines[-1][: width - 1].rstrip() + "…"
    return lines


def _text(value: str) -> str:
    return escape(_NOT_XML.sub("", value), quote=True)


def cover_svg(title: str, author: str) -> str:
    """The SVG document (200 x 300 user units, scales to any size)."""
    seed = hashlib.sha256(title.encode()).digest()
    hue = int.from_bytes(seed[:2], "big") % 360
    background = f"hsl({hue}, 42%, 26%)"
    band = f"hsl({(hue + 35) % 360}, 55%, 62%)"
    title_lines = _lines(title, TITLE_CHARS, TITLE_LINES)
    author_lines = _lines(author, AUTHOR_CHARS, AUTHOR_LINES)
    size = 22 if max(map(len, title_lines)) <= 11 else 18
    top = 62
    title_tspans = "".join(
        f'<tspan x="100" y="{top + index * (size + 6)}">{_text(line)}</tspan>' for index, line in enumerate(title_lines)
    )
    author_tspans = "".join(
        f'<tspan x="100" y="{262 + index * 16 - (len(author_lines) - 1) * 16}">{_text(line)}</tspan>'
        for index, line in enumerate(author_lines)
    )
    label = _text(f"{title} by {author}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}"'
        f' role="img" aria-label="{label}">'
        f"<title>{label}</title>"
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="{background}"/>'
        f'<rect x="0" y="22" width="{WIDTH}" height="4" fill="{band}"/>'
        f'<rect x="0" y="{HEIGHT - 70}" width="{WIDTH}" height="2" fill="{band}"/>'
        f'<text fill="#fdfaf3" font-family="Georgia, \'Times New Roman\', serif" font-size="{size}"'
        f' font-weight="bold" text-anchor="middle">{title_tspans}</text>'
        f'<text fill="{band}" font-family="\'Helvetica Neue\', Arial, sans-serif" font-size="13"'
        f' text-anchor="middle">{author_tspans}</text>'
        "</svg>"
    )
