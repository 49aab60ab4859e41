"""Admins' changes are on record, with who and when: a book's edits on its page, an order's moves in its history."""

from __future__ import annotations

import re

from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import PurchaseEvent
from blasto.shop.book_edits import CHANGES_SHOWN
from tests.functional.test_admin_books import csrf_token, field_error, set_stock
from tests.functional.test_book_covers import upload_cover
from tests.functional.test_markup import check_markup
from tests.functional.test_order_lifecycle import check_out
from tests.support.book_records import changes_of
from tests.support.cover_files import image_bytes, upload
from tests.support.factories import ADMIN, make_admin, make_book, make_user, user_id_for
from tests.support.form_browser import Browser, Page, log_in


def changes_list(page: Page) -> list[str]:
    """The "Changes" section's lines, newest first, as the admin reads them."""
    section = re.search(r'<ol class="order-history" id="book-changes"[^>]*>(.*?)</ol>', page.html, re.S)
    assert section, "the page lists no changes"
    return [
        re.sub(r"<[^>]+>", "", line).split(": ", 1)[1].strip()
        for line in re.findall(r"<li[^>]*>(.*?)</li>", section[1], re.S)
    ]


def second_admin(app) -> Browser:
    make_admin(app, "bea@example.com", "Bea Admin")
    browser = Browser(app.test_client())
    log_in(browser, "bea@example.com")
    return browser


def test_an_edit_records_each_changed_field_with_the_admin_and_its_old_and_new_values(shop_app, admin):
    emma = make_book(shop_app, "Emma", price_cents=1199, stock=5)
    ada = user_id_for(shop_app, ADMIN)
    page = admin.get(f"/admin/books/{emma}/edit")
    assert "No changes recorded yet." in page.text
    page = admin.submit(page, f"/admin/books/{emma}/edit", {"price": "14.50", "stock": "8", "low_stock_threshold": "3"})
    assert "Saved “Emma”." in page.text
    recorded = changes_of(shop_app, emma)
    assert [(c["field"], c["old"], c["new"], c["user_id"]) for c in recorded] == [
        ("price_cents", "1199", "1450", ada),
        ("stock", "5", "8", ada),
        ("low_stock_threshold", None, "3", ada),
    ]
    assert all(c["request_id"] for c in recorded), "each change names the request that made it"
    assert changes_list(page) == [
        "low-stock alert none → 3, by Ada Admin",
        "stock 5 → 8, by Ada Admin",
        "price $11.99 → $14.50, by Ada Admin",
    ]
    check_markup(page)


def test_restock_hide_show_and_a_cover_are_recorded_newest_first_with_each_admin(shop_app, admin):
    emma = make_book(shop_app, "Emma", stock=5)
    bea = second_admin(shop_app)
    page = admin.submit(admin.get(f"/admin/books/{emma}/edit"), f"/admin/books/{emma}/restock", {"copies": "10"})
    set_stock(shop_app, emma, 12)  # three sold meanwhile: not an admin's change, not recorded
    bea.submit(bea.get(f"/admin/books/{emma}/edit"), f"/admin/books/{emma}/hide")
    admin.submit(admin.get(f"/admin/books/{emma}/edit"), f"/admin/books/{emma}/show")
    page = upload_cover(bea, emma, upload(image_bytes("PNG"), "cover.png"))
    assert "Uploaded the cover" in page.text
    assert changes_list(page) == [
        "new cover uploaded, by Bea Admin",
        "put back on sale, by Ada Admin",
        "hidden from shoppers, by Bea Admin",
        "stock 5 → 15, by Ada Admin",
    ]
    fields = [(c["field"], c["old"], c["new"]) for c in changes_of(shop_app, emma)]
    assert fields[:3] == [("stock", "5", "15"), ("hidden", "false", "true"), ("hidden", "true", "false")]
    assert fields[3][0] == "cover" and fields[3][1] is None and re.fullmatch(r"[0-9a-f]{64}", fields[3][2])
    check_markup(page)


def test_nothing_changed_or_nothing_saved_records_nothing(shop_app, admin):
    emma = make_book(shop_app, "Emma", stock=5)
    page = admin.get(f"/admin/books/{emma}/edit")
    admin.submit(page, f"/admin/books/{emma}/edit")  # saved as shown
    set_stock(shop_app, emma, 4)  # a sale while the admin edits
    refused = admin.submit(page, f"/admin/books/{emma}/edit", {"title": "Emma!", "stock": "9"})
    assert refused.status == 409
    bad = admin.submit(page, f"/admin/books/{emma}/edit", {"title": "Emma!", "low_stock_threshold": "0"})
    assert bad.status == 400 and "Choose from 1 to 1,000,000, or leave it empty." in field_error(
        bad, "low_stock_threshold"
    )
    shown = admin.client.post(f"/admin/books/{emma}/show", data={"csrf_token": csrf_token(admin)})  # already for sale
    assert shown.status_code == 303
    assert changes_of(shop_app, emma) == []


def test_the_page_lists_the_latest_twenty_changes(shop_app, admin):
    emma = make_book(shop_app, "Emma", stock=0)
    for _ in range(CHANGES_SHOWN + 2):
        admin.submit(admin.get(f"/admin/books/{emma}/edit"), f"/admin/books/{emma}/restock", {"copies": "1"})
    page = admin.get(f"/admin/books/{emma}/edit")
    shown = changes_list(page)
    assert len(shown) == CHANGES_SHOWN and f"The latest {CHANGES_SHOWN} changes." in page.text
    assert shown[0] == "stock 21 → 22, by Ada Admin" and shown[-1] == "stock 2 → 3, by Ada Admin"


def test_shoppers_see_no_changes_and_cannot_reach_them(shop_app, admin, browser):
    emma = make_book(shop_app, "Emma", stock=5)
    admin.submit(admin.get(f"/admin/books/{emma}/edit"), f"/admin/books/{emma}/restock", {"copies": "2"})
    shopper = Browser(shop_app.test_client())
    make_user(shop_app, email="sam@example.com", name="Sam Shopper")
    log_in(shopper, "sam@example.com")
    assert shopper.client.get(f"/admin/books/{emma}/edit").status_code == 404
    book_page = shopper.get(f"/books/{emma}")
    assert book_page.status == 200 and "Ada Admin" not in book_page.text and "book-changes" not in book_page.ids
    visitor = Browser(shop_app.test_client())
    response = visitor.client.get(f"/admin/books/{emma}/edit")
    assert response.status_code in (302, 303) and response.headers["Location"].startswith("/login")


def test_an_admins_order_moves_name_them_on_the_admin_page_only(shop_app, shopper):
    browser, _ = shopper
    emma = make_book(shop_app, "Emma", stock=3)
    ada = make_admin(shop_app)
    admin = Browser(shop_app.test_client())
    log_in(admin, ADMIN)
    _, paid = check_out(browser, emma)
    admin.submit(admin.get(f"/admin/purchases/{paid}"), f"/admin/purchases/{paid}/pay")
    page = admin.submit(
        admin.get(f"/admin/purchases/{paid}"),
        f"/admin/purchases/{paid}/ship",
        {"carrier": "La Poste", "tracking_number": "6A123"},
    )
    _, cancelled = check_out(browser, emma)
    cancel_page = admin.submit(admin.get(f"/admin/purchases/{cancelled}"), f"/admin/purchases/{cancelled}/cancel")
    assert f"Awaiting payment → Paid, by Ada Admin (account #{ada})" in page.text
    assert f"Paid → Shipped, by Ada Admin (account #{ada})" in page.text
    assert f"Awaiting payment → Cancelled, by Ada Admin (account #{ada})" in cancel_page.text
    assert "placed, awaiting payment (account #" in page.text  # the shopper's own move names no admin
    with shop_app.app_context():
        movers = db.session.execute(
            select(PurchaseEvent.to_status, PurchaseEvent.cause, PurchaseEvent.user_id)
            .where(PurchaseEvent.purchase_id == paid, PurchaseEvent.from_status.is_not(None))
            .order_by(PurchaseEvent.id)
        ).all()
    assert [tuple(row) for row in movers] == [("paid", "admin", ada), ("shipped", "admin", ada)]
    shopper_page = browser.get(f"/purchases/{paid}")
    assert "Ada Admin" not in shopper_page.text
    check_markup(page)
