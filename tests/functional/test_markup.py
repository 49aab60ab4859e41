"""Every page: labelled inputs, working aria references, unique ids, nothing a strict CSP would block."""

import re
from collections import Counter

import pytest

from tests.support.factories import make_book, make_purchase

UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}


def check_markup(page):
    assert page.status in (200, 400, 404), page.status
    duplicates = [i for i, n in Counter(page.ids).items() if n > 1]
    assert not duplicates, f"duplicate ids {duplicates}"
    for control in page.controls:
        if control["tag"] == "button" or control.get("type", "text") in UNLABELLED_TYPES:
            continue
        assert control.get("id") in page.labels_for, f"no <label for> for {control}"
    missing = set(page.described_by) - set(page.ids)
    assert not missing, f"aria-describedby points at nothing: {missing}"
    assert '<meta name="viewport"' in page.html and 'class="skip-link" href="#main"' in page.html
    # Scripts only as files from this site (the CSP forbids inline ones), e.g. the local-time rewrite.
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page.html, re.S)
    assert all('src="/static/' in attrs and not body.strip() for attrs, body in scripts), scripts
    assert page.html.count("<script") == len(scripts)
    assert not re.search(r"\sstyle=", page.html) and not re.search(r"\son[a-z]+=", page.html)
    assert 'id="main"' in page.html and "Request " in page.text


@pytest.fixture
def pages(shop_app, shopper):
    browser, user_id = shopper
    emma = make_book(shop_app, "Emma", stock=3)
    dracula = make_book(shop_app, "Dracula", stock=3)
    purchase = make_purchase(shop_app, user_id, {emma: 1})
    for book in (emma, dracula):
        browser.submit(browser.get(f"/books/{book}"), "/cart/add")
    return browser, emma, purchase


def test_pages_for_a_logged_in_shopper(pages):
    browser, emma, purchase = pages
    for path in (
        "/home",
        "/books",
        "/books?q=emma",
        f"/books/{emma}",
        "/cart",
        "/checkout",
        "/purchases",
        f"/purchases/{purchase}",
        "/books/999",
        "/api/v1/docs",
    ):
        page = browser.get(path)
        check_markup(page)
        assert page.has_form("/logout") and "Sam Shopper" in page.text
        assert 'href="/api/v1/docs"' in page.html and 'href="/api/v1/home"' in page.html and "Cart (2" in page.text


def test_pages_with_errors_showing(pages):
    browser, emma, _ = pages
    check_markup(browser.submit(browser.get(f"/books/{emma}"), "/cart/add", {"quantity": "0"}))
    check_markup(browser.submit(browser.get("/cart"), "/cart/update", {"quantity": "x"}, match={"product_id": emma}))
    browser.submit(browser.get("/home"), "/logout")
    check_markup(browser.submit(browser.get("/signup"), "/signup", {"name": "", "email": "x", "password": "y"}))
    check_markup(browser.submit(browser.get("/login"), "/login", {"email": "x@example.com", "password": "wrong one"}))


def test_pages_for_an_anonymous_visitor(shop_app, browser):
    make_book(shop_app)
    for path in ("/home", "/books", "/cart", "/login", "/signup"):
        page = browser.get(path)
        check_markup(page)
        assert 'href="/login"' in page.html and 'href="/signup"' in page.html and not page.has_form("/logout")


def test_the_shoppers_menu_has_no_developer_links_and_the_footer_has_them(browser):
    html = browser.get("/home").html
    menu = html.split('<nav class="site-nav"', 1)[1].split("</nav>", 1)[0]
    footer = html.split('<footer class="site-footer">', 1)[1]
    assert "/api/" not in menu and ">API" not in menu
    assert '<a href="/api/v1/home">API</a>' in footer and '<a href="/api/v1/docs">API docs</a>' in footer
