"""Every state-changing route outside the API refuses a post without its CSRF token.

The routes come from `app.url_map`, so a new form route is covered without
editing this file. Each is posted by a logged-in shopper (an admin for /admin)
with the data its own form renders, minus the token: the answer must be the
400 CSRF page (or, for a page that shows its own form, a 303 back to it saying
the session expired), and no row of any table may change. The API is the one
exemption, by design: it reads no cookies, only bearer tokens, so a forged
cross-site request has nothing to ride on; that is checked too. So are Stripe's
webhooks, which prove their sender by signature (tests/functional/test_stripe_webhooks.py).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from blasto.web.errors import CSRF_MESSAGE
from blasto.web.expired_forms import EXPIRED_MESSAGE
from tests.attack.routes import page_write_routes, route_id, write_routes
from tests.attack.world import (
    ADMIN,
    API_PREFIX,
    SHOPPER,
    WEBHOOK_PREFIX,
    Browser,
    crawl_forms,
    database_fingerprint,
    find_rule,
    is_logged_in,
    logged_in,
    url_for_rule,
)

TOKEN_FIELD = "csrf_token"


def rendered_forms(app, browser: Browser, prefix: str) -> dict[str, dict]:
    """Rule -> the data of a form some GET page under `prefix` renders for it (token dropped)."""
    return {rule: form.data(drop=(TOKEN_FIELD,)) for rule, (_, form) in crawl_forms(app, browser, prefix).items()}


@pytest.fixture(scope="module")
def visitors(module_pg_shop, world):
    """Logged-in shopper and admin, each with a book in the cart (so cart and checkout forms render), and the forms they see."""
    app = module_pg_shop
    shopper, admin = logged_in(app, SHOPPER), logged_in(app, ADMIN)
    for browser in (shopper, admin):
        browser.submit(browser.get("/books/1"), "/cart/add")
    anonymous = Browser(app.test_client())
    forms = {
        **rendered_forms(app, anonymous, "/"),
        **rendered_forms(app, shopper, "/"),
        **rendered_forms(app, admin, "/admin"),
    }
    return {"shopper": shopper, "admin": admin, "forms": forms}


@pytest.mark.parametrize("route", page_write_routes(), ids=route_id)
def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(module_pg_shop, visitors, route):
    rule_text, method = route
    url = url_for_rule(find_rule(module_pg_shop, rule_text))
    browser = visitors["admin" if rule_text.startswith("/admin") else "shopper"]
    data = visitors["forms"].get(rule_text, {})
    before = database_fingerprint(module_pg_shop)

    response = browser.client.open(url, method=method, data=data)

    body = response.get_data(as_text=True)
    if response.status_code == 303:  # back to the form it came from, with the message
        assert response.headers["Location"] == url, response.headers["Location"]
        assert EXPIRED_MESSAGE in browser.get(url).text
    else:
        assert response.status_code == 400, (response.status_code, body[:300])
        assert response.mimetype == "text/html" and CSRF_MESSAGE in body and "Traceback" not in body
    assert database_fingerprint(module_pg_shop) == before
    assert is_logged_in(browser), "the refused post must not have logged anyone out"


def test_the_forms_posted_are_the_real_ones(visitors):
    """The refusals above mean something: each route was posted its own form's fields."""
    missing = {rule for rule, _ in page_write_routes()} - set(visitors["forms"])
    assert not missing, f"no page renders a form for {sorted(missing)}; give tests.attack.world a row that shows it"


def test_the_same_post_with_its_token_does_change_things(module_pg_shop, visitors):
    """Control: the data sent above is enough to act, so only the missing token stopped it."""
    admin = visitors["admin"]
    page = admin.get("/admin/books/1/edit")
    before = database_fingerprint(module_pg_shop)
    admin.submit(page, "/admin/books/1/hide")
    after = database_fingerprint(module_pg_shop)
    assert after["products"] != before["products"]
    admin.submit(admin.get("/admin/books/1/edit"), "/admin/books/1/show")
    restored = database_fingerprint(module_pg_shop)
    assert restored.pop("book_changes")[0] == before.pop("book_changes")[0] + 2, "hidden, then shown: both on record"
    assert restored == before


def test_only_the_api_and_the_webhooks_go_without_csrf_tokens(module_pg_shop, world):
    """Posting with no token at all: every page route answers with the CSRF page, no API or webhook route does."""
    client = module_pg_shop.test_client()
    refused, exempt = set(), set()
    for rule_text, method in write_routes():
        response = client.open(url_for_rule(find_rule(module_pg_shop, rule_text)), method=method, data={})
        if response.status_code == 400 and CSRF_MESSAGE in response.get_data(as_text=True):
            refused.add(rule_text)
        elif response.status_code == 303 and response.headers["Location"] == response.request.path:
            refused.add(rule_text)  # a page showing its own form: back to it, "Your session expired"
        elif response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login":
            refused.add(rule_text)  # checks its token in the view (the cover upload's body limit): never reached
        else:
            exempt.add(rule_text)
            assert response.mimetype == "application/json", (rule_text, response.status_code)
    assert exempt == {rule for rule, _ in write_routes() if rule.startswith((API_PREFIX, WEBHOOK_PREFIX))}
    assert refused == {rule for rule, _ in page_write_routes()}


def test_a_logged_in_session_cookie_does_not_authenticate_the_api(module_pg_shop, visitors):
    """Why the API may skip CSRF: a browser's cookies carry no authority there."""
    browser = visitors["shopper"]
    before = database_fingerprint(module_pg_shop)
    bought = browser.client.post("/api/v1/purchases", json={"items": [{"product_id": 1, "quantity": 1}]})
    revoked = browser.client.delete("/api/v1/tokens")
    mine = browser.client.get("/api/v1/users/me")
    for response in (bought, revoked, mine):
        assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert database_fingerprint(module_pg_shop) == before
