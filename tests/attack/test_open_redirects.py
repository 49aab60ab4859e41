"""`next` never sends anyone off the site, whatever it holds and wherever it is read.

Each payload is a known open-redirect trick (scheme-relative, backslashes,
whitespace browsers strip, userinfo, other schemes, encodings). It goes to
every endpoint that takes a `next`: the login and sign-up pages (query string
and form field, logged out and already logged in), and the forms with a `next`
field (add to cart, hide/show a book). The Location header is read the way a
browser reads it; its host must be the app's own.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from flask_wtf import FlaskForm
from wtforms.fields.core import UnboundField

from tests.attack.world import ADMIN, SHOPPER, Browser, logged_in
from tests.support.factories import PASSWORD

HOST = "localhost"  # the test client's host
PAYLOADS = [
    "//evil.com",
    "///evil.com",
    "////evil.com",
    "https://evil.com",
    "http://evil.com/home",
    "HTTPS://EVIL.COM",
    "http:evil.com",
    "https:evil.com",
    "https:/evil.com",
    "/\\evil.com",
    "\\\\evil.com",
    "\\/evil.com",
    "/\\/evil.com",
    "/\t/evil.com",
    "/\n/evil.com",
    "/\r\n/evil.com",
    " //evil.com",
    "\t//evil.com",
    "\x00//evil.com",
    "/\x00/evil.com",
    "//evil.com@localhost",
    "http://localhost@evil.com",
    "//localhost.evil.com",
    "https://localhost.evil.com/",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.domain)",
    "data:text/html,<script>alert(1)</script>",
    "//%65vil.com",
    "/%09/evil.com",
    "//evil%E3%80%82com",
    "/\u3002/evil.com",
    "\uff0f\uff0fevil.com",
    "evil.com",
    "//evil.com/%2F..",
    "/" + "a" * 3000,
]
# FlaskForm classes with a `next` field, and the action whose page renders each (checked below).
NEXT_FORMS = {"AddToCartForm": "/cart/add", "VisibilityForm": "/admin/books/1/hide"}


def browser_location(location: str) -> str:
    """The absolute URL a browser would go to (WHATWG parsing: C0/space trimmed, tabs and newlines dropped, \\ as /)."""
    cleaned = re.sub(r"[\t\n\r]", "", location).strip("".join(map(chr, range(0x21)))).replace("\\", "/")
    return urljoin(f"http://{HOST}/login", cleaned)


def assert_stays_on_site(response, payload: str) -> None:
    location = response.headers.get("Location")
    if location is None:
        assert response.status_code < 300 or response.status_code >= 400
        return
    target = urlsplit(browser_location(location))
    assert target.scheme in ("http", "https") and target.hostname == HOST, (
        f"next={payload!r} sent the browser to {location!r}"
    )


def _form_classes(cls=FlaskForm):
    for sub in cls.__subclasses__():
        yield sub
        yield from _form_classes(sub)


def test_every_form_with_a_next_field_is_attacked_here():
    import blasto.admin.forms
    import blasto.site.forms  # noqa: F401

    with_next = {cls.__name__ for cls in _form_classes() if isinstance(getattr(cls, "next", None), UnboundField)}
    assert with_next == set(NEXT_FORMS), "add the new form's action to NEXT_FORMS"


@pytest.fixture(scope="module")
def admin(module_pg_shop, world):
    return logged_in(module_pg_shop, ADMIN)


@pytest.mark.parametrize("payload", PAYLOADS, ids=ascii)
def test_next_never_redirects_off_site(module_pg_shop, world, admin, payload):
    app = module_pg_shop
    query = "?" + urlencode({"next": payload})
    visitor = Browser(app.test_client())
    credentials = (
        visitor.get("/login" + query)
        .form(urlsplit("/login" + query).path)
        .data({"email": SHOPPER, "password": PASSWORD})
    )
    for response in (
        visitor.client.post("/login" + query, data=credentials),  # next in the query string
        visitor.client.get("/login" + query),  # already logged in: redirected at once
        visitor.client.get("/signup" + query),
        visitor.client.post("/cart/add", data={**visitor.get("/books/1").form("/cart/add").data(), "next": payload}),
    ):
        assert response.status_code in (302, 303), response.status_code
        assert_stays_on_site(response, payload)
    form_field = Browser(app.test_client())
    credentials = {
        **form_field.get("/login").form("/login").data({"email": SHOPPER, "password": PASSWORD}),
        "next": payload,
    }
    assert_stays_on_site(form_field.client.post("/login", data=credentials), payload)  # next in the form
    for action in ("/admin/books/1/hide", "/admin/books/1/show"):
        page = admin.get("/admin/books/1/edit")
        response = admin.client.post(action, data={**page.form(action).data(), "next": payload})
        assert response.status_code == 303
        assert_stays_on_site(response, payload)


@pytest.mark.parametrize(
    "location, safe",
    [
        ("/home", True),
        ("http://localhost/cart", True),
        ("//evil.com", False),
        ("/\\evil.com", False),
        ("/\t/evil.com", False),
        (" //evil.com", False),
        ("https:evil.com", False),
        ("javascript:alert(1)", False),
    ],
)
def test_the_location_check_itself_catches_what_browsers_follow(location, safe):
    target = urlsplit(browser_location(location))
    assert (target.scheme in ("http", "https") and target.hostname == HOST) is safe
