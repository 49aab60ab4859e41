"""Book covers: an admin uploads one, the worker sizes it, the pages and the API show it, cached for a year."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from io import BytesIO

import pytest
from PIL import Image
from sqlalchemy import update

from blasto.core.extensions import db
from blasto.models import BookCover, Product
from blasto.models.base import utcnow
from blasto.shop.cover_images import MAX_BYTES, MAX_PIXELS
from blasto.shop.covers import MAX_SIZING_ASKS, SIZE_TASK, store_cover
from blasto.site.covers import IMMUTABLE
from tests.functional.test_admin_book_details import field_error
from tests.functional.test_markup import check_markup
from tests.support.cover_files import (
    BLUE,
    RED,
    image_bytes,
    png_declaring,
    sideways_jpeg,
    truncated_jpeg,
    upload,
)
from tests.support.embedded_broker import queued_tasks
from tests.support.factories import make_book
from tests.support.sweeps import run_orders_sweep

COVER_IMG = re.compile(r'<img class="cover" src="([^"]+)"[^>]*>')


def upload_cover(admin, book: int, part, follow_redirects: bool = True):
    page = admin.get(f"/admin/books/{book}/edit")
    return admin.submit(page, f"/admin/books/{book}/cover", {"cover": part}, follow_redirects=follow_redirects)


def run_size_task(app, book: int) -> str:
    """The worker's task, run here and now on the digest the upload queued (as the worker would get it)."""
    with app.app_context():
        digest = db.session.scalar(db.select(BookCover.digest).where(BookCover.product_id == book))
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()
    return celery.tasks[SIZE_TASK].apply(args=[book, digest]).get()


def cover_src(admin, book: int) -> str:
    match = COVER_IMG.search(admin.get(f"/books/{book}").html)
    assert match, "the book page shows no cover"
    return match[1]


@pytest.mark.parametrize(
    ("kind", "name", "content_type"),
    [("JPEG", "cover.jpg", "image/jpeg"), ("PNG", "cover.png", "image/png"), ("WEBP", "cover.webp", "image/webp")],
)
def test_an_uploaded_cover_is_sized_by_the_worker_and_shown(shop_app, admin, tmp_path, kind, name, content_type):
    book = make_book(shop_app, "Persuasion")
    generated = cover_src(admin, book)
    assert generated.endswith(".svg")
    page = upload_cover(admin, book, upload(image_bytes(kind, (600, 900)), name, content_type))
    assert page.status == 200 and "Uploaded the cover of “Persuasion”" in page.text
    assert "A new cover is being prepared" in page.text
    check_markup(page)
    assert [args for args, _ in queued_tasks(tmp_path, SIZE_TASK, "id")] == [book]
    assert cover_src(admin, book) == generated  # until the sizes exist

    assert run_size_task(shop_app, book) == "sized"
    src = cover_src(admin, book)
    assert re.fullmatch(rf"/covers/{book}/[0-9a-f]{{16}}-480\.webp", src)
    for width, height in ((200, 300), (480, 720)):
        response = admin.client.get(src.replace("-480.", f"-{width}."))
        assert response.status_code == 200 and response.mimetype == "image/webp"
        with Image.open(BytesIO(response.data)) as image:
            assert (image.format, image.size) == ("WEBP", (width, height))
    with shop_app.app_context():
        cover = db.session.get(BookCover, book)
        assert cover.content_type == content_type and cover.original[:2] in (b"\xff\xd8", b"\x89P", b"RI")


def test_sizes_are_upright_and_carry_no_metadata(shop_app, admin):
    book = make_book(shop_app)
    upload_cover(admin, book, upload(sideways_jpeg(), "phone.jpg", "image/jpeg"))
    run_size_task(shop_app, book)
    data = admin.client.get(cover_src(admin, book)).data
    with Image.open(BytesIO(data)) as image:
        assert not image.getexif() and "exif" not in image.info and "xmp" not in image.info
        rgb = image.convert("RGB")
        width, height = rgb.size
        left, right = rgb.getpixel((width // 4, height // 4)), rgb.getpixel((3 * width // 4, height // 4))
    # Shown upright (EXIF orientation 6) the red half is on the right; unrotated it would be on top.
    assert _near(right, RED) and _near(left, BLUE), (left, right)


def _near(colour, target) -> bool:
    return all(abs(a - b) < 60 for a, b in zip(colour, target))


BAD = [
    (
        "a text file named .jpg",
        upload(b"not an image at all\n" * 20, "cover.jpg", "image/jpeg"),
        "not a JPEG, PNG or WebP image",
    ),
    ("a GIF", upload(image_bytes("GIF"), "cover.gif", "image/gif"), "not a JPEG, PNG or WebP image"),
    ("a truncated JPEG", upload(truncated_jpeg(), "cover.jpg", "image/jpeg"), "damaged or cut short"),
    (
        "a decompression bomb",
        upload(png_declaring(20_000, 20_000), "cover.png", "image/png"),
        f"at most {MAX_PIXELS:,} pixels",
    ),
    ("too many pixels", upload(png_declaring(6_000, 6_000), "cover.png", "image/png"), "is 6,000 × 6,000 pixels"),
    ("an empty file", upload(b"", "cover.jpg", "image/jpeg"), "The file is empty"),
    ("no file chosen", upload(b"", ""), "Choose an image file to upload."),
    ("a text field instead of a file", "hello.jpg", "Choose an image file to upload."),
]


@pytest.mark.parametrize(("label", "part", "message"), BAD, ids=[label for label, _, _ in BAD])
@pytest.mark.sweep
def test_anything_but_a_cover_is_refused_with_a_field_error(shop_app, admin, label, part, message):
    book = make_book(shop_app)
    page = upload_cover(admin, book, part)
    assert page.status == 400
    assert message in field_error(page, "cover-file")
    check_markup(page)
    with shop_app.app_context():
        assert db.session.get(BookCover, book) is None
        assert db.session.get(Product, book).cover_digest is None


def test_an_oversize_upload_is_a_413_page(shop_app, admin):
    book = make_book(shop_app)
    page = upload_cover(admin, book, upload(b"\xff\xd8" + b"0" * (MAX_BYTES + 100 * 1024), "big.jpg", "image/jpeg"))
    assert page.status == 413
    assert "Traceback" not in page.html
    with shop_app.app_context():
        assert db.session.get(BookCover, book) is None


def test_a_cover_just_over_the_limit_is_a_field_error(shop_app, admin):
    book = make_book(shop_app)
    page = upload_cover(admin, book, upload(b"\xff\xd8" + b"0" * MAX_BYTES, "big.jpg", "image/jpeg"))
    assert page.status == 400 and "a cover may be at most 5 MB" in field_error(page, "cover-file")


def test_the_upload_needs_the_csrf_token(shop_app, admin):
    book = make_book(shop_app)
    response = admin.client.post(f"/admin/books/{book}/cover", data={"cover": upload(image_bytes("PNG"), "c.png")})
    assert response.status_code == 400
    with shop_app.app_context():
        assert db.session.get(BookCover, book) is None


def test_a_new_cover_gets_a_new_url_and_the_old_one_is_gone(shop_app, admin):
    book = make_book(shop_app)
    upload_cover(admin, book, upload(image_bytes("PNG", colour=(10, 10, 10)), "a.png", "image/png"))
    run_size_task(shop_app, book)
    first = cover_src(admin, book)
    upload_cover(admin, book, upload(image_bytes("PNG", colour=(250, 250, 250)), "b.png", "image/png"))
    assert cover_src(admin, book).endswith(".svg")  # the old sizes are gone; the new ones are not made yet
    assert run_size_task(shop_app, book) == "sized"
    second = cover_src(admin, book)
    assert second != first and second.endswith("-480.webp")
    assert admin.client.get(first).status_code == 404
    assert admin.client.get(second).status_code == 200


def test_a_build_for_a_replaced_upload_writes_nothing(shop_app, admin):
    book = make_book(shop_app)
    upload_cover(admin, book, upload(image_bytes("PNG", colour=(10, 10, 10)), "a.png", "image/png"))
    with shop_app.app_context():
        old = db.session.get(BookCover, book).digest
    upload_cover(admin, book, upload(image_bytes("PNG", colour=(250, 250, 250)), "b.png", "image/png"))
    celery = shop_app.extensions["celery"]
    celery.loader.import_default_modules()
    assert celery.tasks[SIZE_TASK].apply(args=[book, old]).get() == "superseded"
    with shop_app.app_context():
        assert db.session.get(Product, book).cover_digest is None


def test_covers_are_cached_for_a_year_with_an_etag(shop_app, admin):
    book = make_book(shop_app)
    upload_cover(admin, book, upload(image_bytes("JPEG"), "c.jpg", "image/jpeg"))
    run_size_task(shop_app, book)
    for src in (cover_src(admin, book), _art_src(admin, make_book(shop_app, "Sanditon"))):
        response = admin.client.get(src)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == IMMUTABLE == "public, max-age=31536000, immutable"
        etag = response.headers["ETag"]
        again = admin.client.get(src, headers={"If-None-Match": etag})
        assert again.status_code == 304 and not again.data


def _art_src(admin, book: int) -> str:
    src = cover_src(admin, book)
    assert src.endswith(".svg")
    return src


def test_a_wrong_hash_or_size_is_a_404(shop_app, admin):
    book = make_book(shop_app)
    upload_cover(admin, book, upload(image_bytes("JPEG"), "c.jpg", "image/jpeg"))
    run_size_task(shop_app, book)
    src = cover_src(admin, book)
    digest = re.search(r"/([0-9a-f]{16})-", src)[1]
    for wrong in (
        src.replace(digest, "0" * 16),
        src.replace("-480.", "-999."),
        src.replace(f"/covers/{book}/", f"/covers/{book + 1}/"),
        src.replace(digest, digest[:8]),
        f"/covers/{book}/{'0' * 16}.svg",
        f"/covers/{book + 1}/{'0' * 16}.svg",
        "/covers/99999999999/0000000000000000.svg",
    ):
        response = admin.client.get(wrong)
        assert response.status_code == 404, wrong
        assert "immutable" not in response.headers.get("Cache-Control", "")


def test_the_generated_cover_is_escaped_and_follows_the_title(shop_app, admin):
    title, author = "<script>alert(\"x\")</script> & the 'Quotes' of a rather long title indeed", "Smith & <b>Sons</b>"
    book = make_book(shop_app, title, author)
    src = _art_src(admin, book)
    response = admin.client.get(src)
    assert response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert "<script" not in svg and "<b>" not in svg
    root = ET.fromstring(svg)  # well-formed XML
    namespace = "{http://www.w3.org/2000/svg}"
    assert not root.findall(f".//{namespace}script")
    words = " ".join("".join(text.itertext()) for text in root.findall(f"{namespace}text"))
    assert '<script>alert("x")</script>' in words and "Smith & <b>Sons</b>" in words
    assert root.attrib["aria-label"] == f"{title} by {author}"
    with shop_app.app_context():
        db.session.execute(db.update(Product).where(Product.id == book).values(title="Plain"))
        db.session.commit()
    assert _art_src(admin, book) != src
    assert admin.client.get(src).status_code == 404


def test_every_cover_on_the_pages_has_alt_text_and_a_size(shop_app, admin):
    books = [make_book(shop_app, f"Book {n}", stock=3) for n in range(3)]
    upload_cover(admin, books[0], upload(image_bytes("PNG"), "c.png", "image/png"))
    run_size_task(shop_app, books[0])
    for url, lazy in (("/", True), ("/books", True), (f"/books/{books[0]}", False)):
        page = admin.get(url)
        images = re.findall(r"<img [^>]*>", page.html)
        assert images, url
        for img in images:
            assert re.search(r' alt="Cover of “Book \d”"', img), img
            assert ' width="' in img and ' height="' in img, img
            assert (' loading="lazy"' in img) == lazy, img
        assert any("-200.webp" in img or "-480.webp" in img for img in images), url
        assert admin.client.get(COVER_IMG.search(page.html)[1]).status_code == 200


# --- a cover whose task was lost: the orders sweep asks again ---------------------------


def store_without_asking(app, book: int) -> None:
    """The upload's commit, with its task never sent (the broker was down, or the message was lost)."""
    with app.app_context():
        store_cover(book, image_bytes("PNG", (600, 900)), "image/png")
        db.session.commit()


def age_sizing_ask(app, book: int) -> None:
    """Make the last ask for the cover's sizes older than COVER_SWEEP_AFTER_SECONDS."""
    with app.app_context():
        asked = utcnow() - timedelta(seconds=app.config["COVER_SWEEP_AFTER_SECONDS"] + 1)
        db.session.execute(update(BookCover).where(BookCover.product_id == book).values(sizing_asked_at=asked))
        db.session.commit()


def test_a_cover_whose_task_was_never_sent_is_sized_once_the_orders_sweep_asks_again(shop_app, admin, tmp_path):
    book = make_book(shop_app, "Persuasion")
    store_without_asking(shop_app, book)
    run_orders_sweep(shop_app)
    assert queued_tasks(tmp_path, SIZE_TASK, "id") == [], "a cover asked about just now is left alone"
    assert cover_src(admin, book).endswith(".svg")

    age_sizing_ask(shop_app, book)
    run_orders_sweep(shop_app)
    run_orders_sweep(shop_app)  # the first sweep stamped its ask: the second queues nothing more
    assert [args for args, _ in queued_tasks(tmp_path, SIZE_TASK, "id")] == [book]

    assert run_size_task(shop_app, book) == "sized"
    assert re.fullmatch(rf"/covers/{book}/[0-9a-f]{{16}}-480\.webp", cover_src(admin, book))
    age_sizing_ask(shop_app, book)
    run_orders_sweep(shop_app)
    assert len(queued_tasks(tmp_path, SIZE_TASK, "id")) == 1, "a sized cover is never asked about again"


def test_the_sweep_stops_asking_about_a_cover_after_a_few_asks(shop_app, tmp_path):
    book = make_book(shop_app)
    store_without_asking(shop_app, book)
    for _ in range(MAX_SIZING_ASKS + 2):
        age_sizing_ask(shop_app, book)
        run_orders_sweep(shop_app)
    assert len(queued_tasks(tmp_path, SIZE_TASK, "id")) == MAX_SIZING_ASKS - 1  # the upload's own ask was the first
    with shop_app.app_context():
        assert db.session.get(BookCover, book).sizing_asks == MAX_SIZING_ASKS
