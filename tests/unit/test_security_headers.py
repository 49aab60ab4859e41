"""Security headers on every response, and markup the Content-Security-Policy would not block.

The crawl requests every GET route in the url_map as a logged-in admin (so
the admin pages render too), with real ids; every answer, whatever its
status, must carry the headers. The markup checks read both the templates'
source and every page the crawl rendered: no inline <script>, <style>,
style="" or on*= handlers, which the policy (no 'unsafe-inline') would block.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import url_for

from blasto.shop.cover_art import art_digest
from blasto.web.security_headers import CONTENT_SECURITY_POLICY, SECURITY_HEADERS
from tests.support.api_client import bearer
from tests.support.factories import make_admin, make_book, make_purchase
from tests.support.form_browser import Browser, log_in

TEMPLATES = Path(__file__).resolve().parents[2] / "blasto" / "templates"
EXPECTED = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class InlineFinder(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' would block, and every script/stylesheet address."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.sources: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> (inline event handler)")
            if name == "style":
                self.problems.append(f"<{tag} style=...> (inline style)")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:...>")
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script":
            if attrs.get("src"):
                self.sources.append(attrs["src"])
            else:
                self._in_script = True
        if tag == "link" and "stylesheet" in (attrs.get("rel") or ""):
            self.sources.append(attrs.get("href") or "")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append("inline <script> content")


def inline_problems(html: str) -> InlineFinder:
    finder = InlineFinder()
    finder.feed(html)
    return finder


def missing_headers(response) -> dict:
    return {name: response.headers.get(name) for name, value in EXPECTED.items() if response.headers.get(name) != value}


def test_the_policy_is_the_one_asked_for():
    assert SECURITY_HEADERS == EXPECTED
    assert EXPECTED["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


@pytest.fixture
def crawl(db_app):
    """Every GET route, requested anonymously and as a logged-in admin, with ids that exist.

    {(rule, who): response}: the anonymous visitor sees /login and /signup, the
    admin (with a bearer token for the API) sees everything else.
    """
    admin = make_admin(db_app)
    book = make_book(db_app)
    purchase = make_purchase(db_app, admin, {book: 1})
    browser = Browser(db_app.test_client())
    assert "Ada Admin" in log_in(browser, "admin@example.com").text
    token = browser.client.post("/api/v1/tokens", auth=("admin@example.com", "correct horse battery")).get_json()[
        "token"
    ]
    values = {
        "book_id": book,
        "product_id": book,
        "purchase_id": purchase,
        "user_id": admin,
        "report_id": 1,
        "message_id": 1,
        "name": "days.csv",
        "filename": "css/site.css",
        "digest": art_digest("Emma", "Jane Austen"),  # make_book's: its generated cover (no upload: the WebP 404s)
        "width": 200,
    }
    clients = {"anonymous": (db_app.test_client(), None), "admin": (browser.client, bearer(token))}
    responses = {}
    for rule in db_app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        with db_app.test_request_context():
            url = url_for(rule.endpoint, **{argument: values[argument] for argument in rule.arguments})
        for who, (client, api_headers) in clients.items():
            responses[rule.rule, who] = client.get(url, headers=api_headers if url.startswith("/api/") else None)
    return responses


def test_every_get_route_carries_the_headers_and_renders_nothing_inline(crawl):
    assert len(crawl) >= 60
    assert {key: missing_headers(response) for key, response in crawl.items() if missing_headers(response)} == {}
    rendered = {rule for (rule, _), response in crawl.items() if response.status_code == 200}
    # The crawl really rendered pages, JSON and files, not only errors and redirects.
    for rule in (
        "/home",
        "/books",
        "/books/<int(min=1, max=2147483647):product_id>",
        "/login",
        "/signup",
        "/cart",
        "/admin/books",
        "/admin/outbox",
        "/admin/reports",
        "/api/v1/docs",
        "/api/v1/openapi.json",
        "/api/v1/purchases",
        "/api/v1/users/me",
        "/static/<path:filename>",
        "/healthz",
        "/covers/<int(min=1, max=2147483647):book_id>/<string:digest>.svg",
    ):
        assert rule in rendered, (rule, crawl[rule, "anonymous"].status_code, crawl[rule, "admin"].status_code)

    # The pages it rendered have nothing the policy would block.
    pages = {
        key: response.get_data(as_text=True)
        for key, response in crawl.items()
        if response.status_code == 200 and response.mimetype == "text/html"
    }
    assert len(pages) >= 10
    for key, html in pages.items():
        found = inline_problems(html)
        assert found.problems == [], key
        # Scripts and stylesheets come from this app ('self'), never from another host.
        assert all(source.startswith("/") and not source.startswith("//") for source in found.sources), (
            key,
            found.sources,
        )


def test_templates_have_no_inline_script_style_or_handlers():
    templates = [path for path in TEMPLATES.rglob("*.html") if "mail" not in path.relative_to(TEMPLATES).parts]
    assert len(templates) >= 15
    problems = {str(path.relative_to(TEMPLATES)): inline_problems(path.read_text()).problems for path in templates}
    assert {name: found for name, found in problems.items() if found} == {}
    report = inline_problems((TEMPLATES / "admin" / "report.html").read_text())
    assert report.sources == ["{{ asset_url('js/report-progress.js') }}"]


def test_the_checker_finds_what_the_policy_blocks():
    found = inline_problems(
        '<p style="color:red" onclick="x()">a</p><script>alert(1)</script><style>p{}</style>'
        '<a href="javascript:void(0)">b</a><script src="/static/ok.js"></script>'
    )
    assert len(found.problems) == 5 and found.sources == ["/static/ok.js"]


def test_errors_posts_and_failures_carry_the_headers_too(app_factory):
    app = app_factory()

    @app.get("/_test/boom")
    def boom():
        raise RuntimeError("boom")

    client = app.test_client()
    for response in (
        client.get("/no/such/page"),  # 404 page
        client.get("/api/v1/missing"),  # JSON 404
        client.post("/home"),  # 405
        client.post("/cart/add", data={"product_id": "1"}),  # CSRF refusal (no page of its own to go back to)
        client.get("/_test/boom"),  # 500
    ):
        assert response.status_code >= 400 and missing_headers(response) == {}, response.status_code


def test_a_view_can_set_its_own_policy(app_factory):
    app = app_factory()

    @app.get("/_test/framed")
    def framed():
        return "ok", 200, {"X-Frame-Options": "SAMEORIGIN"}

    response = app.test_client().get("/_test/framed")
    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.headers["Content-Security-Policy"] == EXPECTED["Content-Security-Policy"]
