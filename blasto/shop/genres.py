"""The shop's genres: the one fixed list that the catalogue, the admin's form and the API share.

A book has at most one genre, stored as its key. Keys are what URLs carry
(`/books?genre=poetry`); labels are what people read. Adding a genre is a
line here (no migration: the column holds any key, the edges check it).
"""

from __future__ import annotations

GENRES: dict[str, str] = {
    "fiction": "Fiction",
    "romance": "Romance",
    "adventure": "Adventure",
    "mystery": "Mystery & crime",
    "horror": "Horror & Gothic",
    "science-fiction": "Science fiction",
    "satire": "Satire",
    "children": "Children's books",
    "poetry": "Poetry",
    "drama": "Drama",
    "philosophy": "Philosophy",
    "history": "History",
    "science": "Science",
}


def genre_label(key: str | None) -> str:
    """The genre's name for people; a key no longer on the list reads as itself."""
    return GENRES.get(key or "", key or "")
