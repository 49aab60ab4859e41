"""Covers live in the database, byte for byte, on the embedded SQLite and on Postgres alike; the API links them."""

from __future__ import annotations

from io import BytesIO

import pytest
from PIL import Image

from blasto.core.extensions import db
from blasto.models import BookCover, Product
from blasto.shop.cover_images import check_cover
from blasto.shop.covers import SIZED, make_cover_sizes, store_cover
from tests.support.api_client import ApiClient
from tests.support.cover_files import image_bytes
from tests.support.factories import make_book
from tests.support.tiers import POSTGRES_PARAM


@pytest.fixture(params=["sqlite", POSTGRES_PARAM])
def any_api(request) -> ApiClient:
    """An API client inside its app's context, on the embedded SQLite or on Postgres."""
    return request.getfixturevalue("api" if request.param == "sqlite" else "pg_api")


def test_a_cover_round_trips_through_the_database(any_api):
    any_app = any_api.app
    book = make_book(any_app, "Middlemarch", "George Eliot")
    original = image_bytes("PNG", (400, 600), colour=(0, 0, 0))
    assert b"\x00" in original  # bytes a text column would mangle
    digest, needs_sizes = store_cover(book, original, check_cover(original))
    db.session.commit()
    assert needs_sizes and db.session.get(Product, book).cover_digest is None
    assert make_cover_sizes(book, digest) == SIZED
    db.session.expire_all()
    cover = db.session.get(BookCover, book)
    assert cover.original == original and cover.digest == digest
    assert db.session.get(Product, book).cover_digest == digest
    assert store_cover(book, original, "image/png") == (digest, False)  # the same file again: nothing to do
    product = any_api.get(f"/api/v1/products/{book}", any_api.user("reader@example.com")).get_json()
    assert product["cover_url"] == f"/covers/{book}/{digest[:16]}-480.webp"
    response = any_api.http.get(product["cover_url"])
    assert response.status_code == 200
    with Image.open(BytesIO(response.data)) as image:
        assert image.size == (480, 720)


def test_the_api_links_the_generated_cover_of_a_book_without_one(api):
    book = make_book(api.app, "Emma", "Jane Austen")
    product = api.get(f"/api/v1/products/{book}", api.user("p@example.com")).get_json()
    assert product["cover_url"].startswith(f"/covers/{book}/") and product["cover_url"].endswith(".svg")
    response = api.http.get(product["cover_url"])
    assert response.status_code == 200 and response.mimetype == "image/svg+xml" and b"Emma" in response.data
