"""No one reads or touches what is not theirs: another shopper's purchase is a 404,
the admin area is a 404 for shoppers, and the reports API is a 403 for them.

Routes are enumerated from `app.url_map`; every GET route naming a row by id
must be classified below as owned, public or admin-only, so a new one cannot
slip in untested.
"""

from __future__ import annotations

import re

import pytest

from tests.attack.routes import get_routes, route_id, routing_app
from tests.attack.world import ADMIN, OTHER, SHOPPER, database_fingerprint, find_rule, logged_in, url_for_rule

# GET routes naming one user's row by id: only that user may read them.
OWNED = {"/purchases/<purchase_id>", "/api/v1/purchases/<purchase_id>", "/api/v1/users/<user_id>"}
# The catalogue: anyone may read a book that is for sale.
PUBLIC = {
    "/books/<product_id>",
    "/api/v1/products/<product_id>",
    "/covers/<book_id>/<digest>.svg",  # a book's cover: as public as the book
    "/covers/<book_id>/<digest>-<width>.webp",
}
ADMIN_ONLY = ("/admin", "/api/v1/reports")


def short(rule_text: str) -> str:
    return route_id(rule_text)


def rules_under(prefix: str) -> list:
    """Every rule under `prefix`, any method, from the routing app."""
    return sorted(
        (rule for rule in routing_app().url_map.iter_rules() if rule.rule.startswith(prefix)), key=lambda r: r.rule
    )


@pytest.fixture(scope="module")
def browsers(module_pg_shop, world):
    return {email: logged_in(module_pg_shop, email) for email in (SHOPPER, OTHER, ADMIN)}


def test_every_get_route_with_an_id_is_classified():
    with_ids = {
        short(rule.rule)
        for rule in routing_app().url_map.iter_rules()
        if "GET" in rule.methods
        and rule.arguments
        and rule.endpoint != "static"
        and not rule.rule.startswith(ADMIN_ONLY)
    }
    assert with_ids == OWNED | PUBLIC, "classify the new route in OWNED or PUBLIC (and test it)"


@pytest.mark.parametrize("rule_text", sorted(r for r in get_routes() if short(r) in OWNED), ids=short)
def test_someone_elses_row_is_a_404_and_says_nothing_about_it(module_pg_shop, world, browsers, tokens, rule_text):
    url = url_for_rule(find_rule(module_pg_shop, rule_text))  # id 1: the shopper's purchase, the shopper's account
    api = rule_text.startswith("/api/")

    def read(email):
        if api:
            return module_pg_shop.test_client().get(url, headers=tokens[email])
        return browsers[email].client.get(url)

    own, foreign = read(SHOPPER), read(OTHER)
    assert own.status_code == 200, "control: the owner reads it"
    assert foreign.status_code == 404
    assert foreign.mimetype == ("application/json" if api else "text/html")
    body = foreign.get_data(as_text=True)
    assert SHOPPER not in body and "Sam Shopper" not in body
    if not api:  # and the page is the same 404 as for an id nobody has
        missing = browsers[OTHER].client.get(url_for_rule(find_rule(module_pg_shop, rule_text), number=2**31 - 1))
        assert missing.status_code == 404 and _without_request_id(missing) == _without_request_id(foreign)


def _without_request_id(response) -> str:
    """The page without what differs on every response: the request id, and the CSRF token (it carries the time)."""
    text = re.sub(r"[0-9a-f-]{32,36}", "", response.get_data(as_text=True))
    return re.sub(r'name="csrf_token"[^>]*value="[^"]*"', 'name="csrf_token"', text)


def test_lists_show_only_your_own_purchases(module_pg_shop, world, browsers, tokens):
    listed = module_pg_shop.test_client().get("/api/v1/purchases", headers=tokens[OTHER]).get_json()
    assert [item["id"] for item in listed["items"]] == [world.others_purchase_id]
    page = browsers[OTHER].get("/purchases")
    assert f"/purchases/{world.others_purchase_id}" in page.html and f'/purchases/{world.purchase_id}"' not in page.html


@pytest.mark.parametrize("rule_text", get_routes("/admin"), ids=short)
def test_the_admin_area_is_a_404_for_shoppers(module_pg_shop, world, browsers, rule_text):
    url = url_for_rule(find_rule(module_pg_shop, rule_text))
    assert browsers[ADMIN].client.get(url).status_code == 200, "control: an admin gets the page"
    response = browsers[SHOPPER].client.get(url)
    assert response.status_code == 404 and response.mimetype == "text/html"
    anonymous = module_pg_shop.test_client().get(url)
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login?next=")


def test_admin_forms_posted_by_a_shopper_with_a_valid_csrf_token_are_a_404_and_change_nothing(
    module_pg_shop, world, browsers
):
    shopper = browsers[SHOPPER]
    token = shopper.get("/cart").forms[0].value("csrf_token")  # the layout's logout form carries the session's token
    assert token
    before = database_fingerprint(module_pg_shop)
    for rule in rules_under("/admin"):
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"}):
            data = {
                "csrf_token": token,
                "title": "Pwned",
                "author": "Eve",
                "price": "1.00",
                "stock": "1",
                "copies": "5",
                "first": "2026-01-01",
                "last": "2026-01-02",
            }
            response = shopper.client.open(url_for_rule(rule), method=method, data=data)
            assert response.status_code == 404, (rule.rule, response.status_code)
    assert database_fingerprint(module_pg_shop) == before


@pytest.mark.parametrize("rule_text", [rule.rule for rule in rules_under("/api/v1/reports")], ids=short)
def test_the_reports_api_is_a_403_for_shoppers(module_pg_shop, world, tokens, rule_text):
    rule = find_rule(module_pg_shop, rule_text)
    url = url_for_rule(rule)
    client = module_pg_shop.test_client()
    before = database_fingerprint(module_pg_shop)
    for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
        body = {"from": "2026-01-01", "to": "2026-01-31"} if method == "POST" else None
        admin = client.open(url, method=method, headers=tokens[ADMIN], json=body) if method == "GET" else None
        response = client.open(url, method=method, headers=tokens[SHOPPER], json=body)
        assert response.status_code == 403 and response.get_json()["error"] == "forbidden", (
            method,
            response.get_data(as_text=True),
        )
        if admin is not None:
            assert admin.status_code == 200, "control: an admin reads it"
    assert database_fingerprint(module_pg_shop) == before
