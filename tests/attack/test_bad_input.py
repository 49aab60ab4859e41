"""Bad input gets a clear error (or is stored and shown escaped), never a 500.

Everything is enumerated, not listed by hand: page forms are found by crawling
every GET page as a visitor, a shopper and an admin; API fields come from the
OpenAPI document; GET routes from `app.url_map`. Each form and each API field
gets every hostile string of tests.attack.payloads (SQL and template injection,
markup, NUL and control characters, 100,000 characters, emoji, RTL marks, a
lone surrogate), starting from an otherwise valid request, with a valid CSRF
token so the form is really processed. Then invalid UTF-8 in JSON bodies, form
fields and query strings; absurd page numbers on every GET route; and bodies
over MAX_CONTENT_LENGTH on every state-changing route (413, JSON under the API,
the HTML page elsewhere). Raw-socket attacks on gunicorn: test_bad_http.py.
"""

from __future__ import annotations

import itertools
import json
from datetime import date
from urllib.parse import quote, urlsplit

import pytest

from blasto.admin.books import COVER_BODY_MAX
from blasto.web.errors import CSRF_MESSAGE
from tests.attack import api_document as doc
from tests.attack.payloads import BAD_UTF8, INJECTIONS, assert_handled
from tests.attack.routes import get_routes, page_write_routes, route_id, write_routes
from tests.attack.world import (
    ADMIN,
    API_PREFIX,
    SHOPPER,
    WEBHOOK_PREFIX,
    Browser,
    bearer_for,
    crawl_forms,
    find_rule,
    logged_in,
    rule_for_path,
    url_for_rule,
)
from tests.support.api_client import basic
from tests.support.factories import PASSWORD

TOKEN_FIELD = "csrf_token"
_unique = itertools.count(1)
# What a person would type into an empty field, so only the spoiled field is wrong.
TYPED = {
    "email": lambda: f"typed-{next(_unique)}@example.com",
    "password": lambda: PASSWORD + " staple",
    "name": lambda: "Ina Jection",
    "title": lambda: "Injected Title",
    "author": lambda: "Ann Author",
    "description": lambda: "About it.",
    "price": lambda: "9.99",
    "stock": lambda: "3",
    "copies": lambda: "2",
    "quantity": lambda: "1",
    "first": lambda: date.today().isoformat(),
    "last": lambda: date.today().isoformat(),
}
# A browser cannot send a lone surrogate in a form (it sends U+FFFD); its bytes are in BAD_UTF8.
SENDABLE = [payload for payload in INJECTIONS if not any(0xD800 <= ord(ch) <= 0xDFFF for ch in payload)]
# /readyz answers 503 by design while no worker answers (none runs in these tests).
NOT_READY = {"/readyz": (503,)}
PAGING = ["-1", "0", str(10**30), "abc", "1.5", "", "%FF", "1e3", "٣"]  # the last is an Arabic-Indic digit three


class Site:
    """Logged-in browsers and, for each form route, who sees its form and on which page."""

    def __init__(self, app):
        self.app = app
        self.browsers = {"visitor": None, "shopper": logged_in(app, SHOPPER), "admin": logged_in(app, ADMIN)}
        for role in ("shopper", "admin"):
            self.fill_cart(self.browsers[role])
        self.forms: dict[str, tuple[str, str]] = {}  # rule -> (role, page url)
        for role, prefix in (("visitor", "/"), ("shopper", "/"), ("admin", "/admin")):
            for rule, (url, _) in crawl_forms(app, self.browser(role), prefix).items():
                self.forms.setdefault(rule, ("admin" if rule.startswith("/admin") else role, url))

    def browser(self, role: str) -> Browser:
        """The role's browser; a visitor gets a fresh one each time (logging in changes it)."""
        return self.browsers[role] or Browser(self.app.test_client())

    @staticmethod
    def fill_cart(browser: Browser) -> None:
        """Put the first book for sale in the cart (the hide form's injections may hide any given one)."""
        catalogue = browser.get("/books")
        form = next(f for f in catalogue.forms if f.action.endswith("/cart/add"))
        browser.client.post(form.action, data=form.data())

    def fresh_form(self, rule: str):
        """(browser, form) for `rule`, just rendered (so its CSRF token and hidden fields are current)."""
        role, url = self.forms[rule]
        browser = self.browser(role)
        for _attempt in range(2):
            page = browser.get(url)
            forms = [
                f
                for f in page.forms
                if f.method == "post"
                and getattr(rule_for_path(self.app, urlsplit(f.action).path), "rule", None) == rule
            ]
            if forms:
                return browser, forms[0]
            self.fill_cart(browser)  # checkout and cart forms need a book in the cart
        raise AssertionError(f"{url} no longer renders the form for {rule}")

    def valid_data(self, form) -> dict:
        data = form.data()
        for key, value in data.items():
            if not value and key in TYPED:
                data[key] = TYPED[key]()
        return data


@pytest.fixture(scope="module")
def site(module_pg_shop, world):
    return Site(module_pg_shop)


def assert_form_processed(response, what: str) -> None:
    assert not (response.status_code == 400 and CSRF_MESSAGE in response.get_data(as_text=True)), (
        f"{what}: the CSRF token was stale, nothing was tested"
    )


# -- every field of every page form ------------------------------------------------


@pytest.mark.parametrize("rule", [rule for rule, _ in page_write_routes()], ids=route_id)
def test_hostile_strings_in_every_form_field(module_pg_shop, site, rule):
    assert rule in site.forms, f"no page renders a form for {rule}; give tests.attack.world a row that shows it"
    _, form = site.fresh_form(rule)
    fields = [name for name in site.valid_data(form) if name != TOKEN_FIELD]
    for field, payload in itertools.product(fields, SENDABLE):
        browser, form = site.fresh_form(rule)
        data = {**site.valid_data(form), field: payload}
        what = f"{rule} {field}={payload[:40]!r}"
        response = browser.client.post(form.action, data=data)
        assert_form_processed(response, what)
        assert_handled(response, what, api=False)
        if response.status_code in (302, 303):  # the page the shopper lands on shows the result
            assert_handled(browser.client.get(response.headers["Location"]), what + " (after redirect)", api=False)


@pytest.mark.parametrize("rule", [rule for rule, _ in page_write_routes()], ids=route_id)
def test_invalid_utf8_in_every_form_field(module_pg_shop, site, rule):
    assert rule in site.forms, f"no page renders a form for {rule}; give tests.attack.world a row that shows it"
    _, form = site.fresh_form(rule)
    for field, raw in itertools.product([n for n in site.valid_data(form) if n != TOKEN_FIELD], BAD_UTF8):
        browser, form = site.fresh_form(rule)
        data = {key: value for key, value in site.valid_data(form).items() if key != field}
        body = "&".join(f"{quote(key)}={quote(str(value))}" for key, value in data.items()) + f"&{quote(field)}={raw}"
        what = f"{rule} {field}={raw}"
        response = browser.client.post(
            form.action, data=body.encode(), content_type="application/x-www-form-urlencoded"
        )
        assert_form_processed(response, what)
        assert_handled(response, what, api=False)
    # The same bytes unencoded: Werkzeug reads such a body as an empty form, so
    # the CSRF check refuses it: a page showing its own form sends the shopper back
    # to it ("Your session expired; please try again"), others answer the 400 page.
    browser, form = site.fresh_form(rule)
    response = browser.client.post(
        form.action,
        data=b"name=\xff\xfe&" + urlencode_bytes(site.valid_data(form)),
        content_type="application/x-www-form-urlencoded",
    )
    assert_handled(response, f"{rule} raw bytes", api=False)
    assert response.status_code == 400 or (
        response.status_code == 303 and urlsplit(response.headers["Location"]).path == response.request.path
    ), (rule, response.status_code)


def urlencode_bytes(data: dict) -> bytes:
    return "&".join(f"{quote(key)}={quote(str(value))}" for key, value in data.items()).encode()


def test_what_was_stored_is_shown_escaped(module_pg_shop, site, world):
    """After the injections above (or on their own), pages that list stored text escape it."""
    admin = site.browser("admin")
    page = admin.get("/admin/books/new")
    response = admin.client.post(
        "/admin/books/new",
        data={**site.valid_data(page.form("/admin/books/new")), "title": "<script>alert(1)</script> ZZ{{7*7}}ZZ"},
    )
    assert response.status_code == 303
    # /home: the front page's shelves are pre-rendered HTML marked safe (blasto.site.catalog), so check it escapes too.
    for url in ("/home", "/admin/books?q=script", "/books?q=script", "/admin/purchases", response.headers["Location"]):
        body = assert_handled(admin.client.get(url), url, api=False)
        if url != "/admin/purchases":
            assert "&lt;script&gt;alert(1)&lt;/script&gt; ZZ{{7*7}}ZZ" in body, url


# -- every field of every API operation --------------------------------------------


def api_headers(method: str, path: str, tokens: dict) -> dict:
    security = doc.security(method, path)
    if "basicAuth" in security:
        return basic(SHOPPER, PASSWORD)
    if "bearerAuth" in security:
        return tokens[ADMIN if path.startswith("/api/v1/reports") else SHOPPER]
    return {}


def operation_url(method: str, path: str) -> str:
    for parameter in doc.parameters(method, path, "path"):
        path = path.replace("{" + parameter["name"] + "}", str(doc.valid_value(parameter["schema"])))
    return path


TAKING_INPUT = [
    op
    for op in doc.operations()
    if doc.body_schema(*op) or doc.parameters(*op, "query") or doc.parameters(*op, "header")
]


@pytest.mark.parametrize("op", TAKING_INPUT, ids=" ".join)
def test_hostile_strings_in_every_api_field(module_pg_shop, tokens, op):
    method, path = op
    client = module_pg_shop.test_client()
    url = operation_url(method, path)
    schema = doc.body_schema(method, path)
    spoiled = 0
    if schema is not None:
        for payload in INJECTIONS:
            base = doc.valid_value(schema)
            for leaf in doc.leaves(base):
                body = doc.replaced(doc.valid_value(schema), leaf, payload)
                response = client.open(url, method=method, json=body, headers=api_headers(method, path, tokens))
                assert_handled(response, f"{method} {path} {leaf}={payload[:40]!r}", api=True)
                spoiled += 1
    for parameter in doc.parameters(method, path, "query"):
        for payload in SENDABLE:  # a lone surrogate cannot be percent-encoded; its bytes are in BAD_UTF8
            response = client.open(
                url,
                method=method,
                query_string={parameter["name"]: payload},
                headers=api_headers(method, path, tokens),
                json=doc.valid_value(schema) if schema else None,
            )
            assert_handled(response, f"{method} {path}?{parameter['name']}={payload[:40]!r}", api=True)
            spoiled += 1
    for parameter in doc.parameters(method, path, "header"):
        for payload in INJECTIONS:
            if any(ch in payload for ch in "\x00\r\n") or not payload.isascii() or len(payload) > 8000:
                continue  # not a header value any client can send; test_bad_http.py sends raw bytes
            headers = {**api_headers(method, path, tokens), parameter["name"]: payload}
            response = client.open(
                url, method=method, headers=headers, json=doc.valid_value(schema) if schema else None
            )
            assert_handled(response, f"{method} {path} {parameter['name']}: {payload[:40]!r}", api=True)
            spoiled += 1
    assert spoiled >= len(INJECTIONS)


@pytest.mark.parametrize("op", [op for op in doc.operations() if doc.body_schema(*op)], ids=" ".join)
def test_invalid_utf8_and_broken_json_bodies_are_a_400_or_422(module_pg_shop, tokens, op):
    method, path = op
    client = module_pg_shop.test_client()
    schema = doc.body_schema(method, path)
    base = doc.valid_value(schema)
    bodies = [
        b"\xff\xfe",
        b'{"a": "\xff\xfe"}',
        b"{",
        b"[]",
        b"null",
        b'"text"',
        b"\x00",
        json.dumps(base).encode()[:-1],
    ]
    for leaf in doc.leaves(base):
        text = json.dumps(doc.replaced(base, leaf, "__SPOILED__")).encode()
        bodies += [text.replace(b'"__SPOILED__"', b'"\xc0\xaf\xff"'), text.replace(b'"__SPOILED__"', b'"\\ud800"')]
    for body in bodies:
        response = client.open(
            operation_url(method, path),
            method=method,
            data=body,
            content_type="application/json",
            headers=api_headers(method, path, tokens),
        )
        what = f"{method} {path} body {body[:60]!r}"
        assert_handled(response, what, api=True)
        assert response.status_code in (400, 409, 422) or response.status_code < 300, what


# -- query strings and page numbers on every GET route ----------------------------


def get_as_admin(app, url: str, tokens: dict, admin: Browser, query: bytes):
    """GET with `query` as the raw bytes of the query string (WSGI carries them as latin-1)."""
    environ = {"QUERY_STRING": query.decode("latin-1")}
    if url.startswith(API_PREFIX):
        return app.test_client().get(url, headers=tokens[ADMIN], environ_overrides=environ)
    return admin.client.get(url, environ_overrides=environ)


@pytest.mark.parametrize("rule", get_routes(), ids=route_id)
def test_invalid_utf8_in_query_strings_of_every_get_route(module_pg_shop, site, tokens, rule):
    url = url_for_rule(find_rule(module_pg_shop, rule))
    names = ["q", "page", "per_page", "next", "state", "email", "book", "date_from", "min_total"]
    for raw in BAD_UTF8:
        for query in (
            "&".join(f"{name}={raw}" for name in names).encode(),
            b"q=" + bytes.fromhex("fffe") + b"&page=\xff",
            raw.encode(),
        ):
            response = get_as_admin(module_pg_shop, url, tokens, site.browser("admin"), query)
            assert_handled(
                response, f"GET {url}?{query[:60]!r}", api=url.startswith(API_PREFIX), allowed=NOT_READY.get(rule, ())
            )


@pytest.mark.parametrize("rule", get_routes(), ids=route_id)
def test_absurd_page_numbers_on_every_get_route_are_refused_or_clamped(module_pg_shop, site, tokens, rule):
    url = url_for_rule(find_rule(module_pg_shop, rule))
    api = url.startswith(API_PREFIX)
    for name, value in itertools.product(("page", "per_page"), PAGING + ["10" * 10, str(10**9), "-5"]):
        response = get_as_admin(module_pg_shop, url, tokens, site.browser("admin"), f"{name}={value}".encode())
        assert_handled(response, f"GET {url}?{name}={value}", api=api, allowed=NOT_READY.get(rule, ()))
        if api and response.status_code == 200 and response.is_json and "_meta" in (response.get_json() or {}):
            meta = response.get_json()["_meta"]
            assert 1 <= meta["per_page"] <= 100 and meta["page"] >= 1, (url, name, value, meta)
        if api and response.status_code >= 400:
            assert response.status_code in (400, 404, 422), (url, name, value, response.status_code)


# -- bodies over MAX_CONTENT_LENGTH -------------------------------------------------

LARGER_BODY_LIMITS = {"admin.upload_cover": COVER_BODY_MAX}


@pytest.mark.parametrize("route", write_routes(), ids=route_id)
def test_a_body_over_the_limit_is_a_413_in_the_right_shape(module_pg_shop, site, tokens, route):
    rule, method = route
    url = url_for_rule(find_rule(module_pg_shop, rule))
    # A route with a limit of its own (a cover upload takes a few MB) is held to that one.
    limit = LARGER_BODY_LIMITS.get(
        find_rule(module_pg_shop, rule).endpoint, module_pg_shop.config["MAX_CONTENT_LENGTH"]
    )
    if rule.startswith(API_PREFIX):
        body = json.dumps({"padding": "x" * limit}).encode()
        path = rule_for_path(module_pg_shop, urlsplit(url).path, method)
        op = (method, next(p for p in doc.document()["paths"] if _same_route(p, path.rule)))
        headers = api_headers(*op, tokens)
        if doc.body_schema(*op) is None and "bearerAuth" in doc.security(*op):
            headers = bearer_for(
                module_pg_shop, SHOPPER
            )  # the operation may act on its token (DELETE /tokens revokes it)
        response = module_pg_shop.test_client().open(
            url, method=method, data=body, content_type="application/json", headers=headers
        )
        if doc.body_schema(*op) is None:  # takes no body: it is never read, and the answer is the operation's own
            assert_handled(response, f"{method} {rule}", api=True)
            return
        assert response.status_code == 413 and response.mimetype == "application/json", (rule, response.status_code)
        assert response.get_json()["error"] == "request_entity_too_large"
    elif rule.startswith(WEBHOOK_PREFIX):  # a third party's JSON: answered in JSON, before any signature check
        body = json.dumps({"padding": "x" * limit}).encode()
        response = module_pg_shop.test_client().open(url, method=method, data=body, content_type="application/json")
        assert response.status_code == 413 and response.mimetype == "application/json", (rule, response.status_code)
        assert response.get_json()["error"] == "request_entity_too_large"
    else:
        role = "admin" if rule.startswith("/admin") else "shopper"
        browser = site.browser(role)
        token = browser.get("/cart").forms[0].value(TOKEN_FIELD)
        body = f"{TOKEN_FIELD}={token}&padding=" + "x" * limit
        response = browser.client.open(
            url, method=method, data=body.encode(), content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == 413 and response.mimetype == "text/html", (rule, response.status_code)
        assert "413" in response.get_data(as_text=True) and "Traceback" not in response.get_data(as_text=True)


def _same_route(openapi_path: str, rule: str) -> bool:
    import re

    return re.sub(r"\{[^}]+\}", "<>", openapi_path) == re.sub(r"<[^>]+>", "<>", rule)


PAGINATED_API = [
    op for op in doc.operations() if {"page", "per_page"} <= {p["name"] for p in doc.parameters(*op, "query")}
]


@pytest.mark.parametrize("op", PAGINATED_API, ids=" ".join)
def test_paginated_api_collections_clamp_per_page_and_refuse_bad_pages(module_pg_shop, tokens, op):
    client = module_pg_shop.test_client()
    url = operation_url(*op)
    for per_page in (101, 10**9, 10**30):  # documented: capped, not refused
        huge = client.get(url, query_string={"per_page": per_page}, headers=api_headers(*op, tokens))
        assert huge.status_code == 200 and huge.get_json()["_meta"]["per_page"] == 100, (url, per_page)
    for query in (
        {"page": -1},
        {"page": 0},
        {"page": 10**30},
        {"page": "abc"},
        {"page": "1.5"},
        {"per_page": 0},
        {"per_page": -5},
        {"per_page": "x"},
    ):
        response = client.get(url, query_string=query, headers=api_headers(*op, tokens))
        assert response.status_code == 422, (url, query, response.status_code)
        body = response.get_json()
        assert body["error"] == "unprocessable_entity" and body["errors"]["query"], (url, query, body)


def test_paginated_pages_refuse_bad_page_numbers_with_a_clear_404(module_pg_shop, site):
    """A page is paginated if a page far past the end is refused; every such page explains bad numbers."""
    admin = site.browser("admin")
    paginated = [
        url
        for url in (
            url_for_rule(find_rule(module_pg_shop, rule)) for rule in get_routes() if not rule.startswith(API_PREFIX)
        )
        if admin.client.get(url, query_string={"page": 999_999}).status_code == 404
        and admin.client.get(url).status_code == 200
    ]
    assert {"/books", "/purchases", "/admin/books", "/admin/purchases"} <= set(paginated), paginated
    for url, value in itertools.product(paginated, ["-1", "0", "abc", str(10**30), "1.5", "٣"]):
        response = admin.client.get(url, query_string={"page": value})
        body = response.get_data(as_text=True)
        assert response.status_code == 404 and response.mimetype == "text/html", (url, value, response.status_code)
        assert "Page numbers are whole numbers starting at 1." in body, (url, value)
