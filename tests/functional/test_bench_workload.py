"""The benchmark's users adapt to the tree they run against (bench/shopper_input.py).

`python3 dev.py bench --before TREE` runs this tree's workload against an
older tree too. Across the shipping change (4c51f43) the older checkout form
has no address fields and the older API answers 422 to an unknown
`shipping_address`, so the workload sends shipping only where the tree's
checkout form renders the fields and its OpenAPI document lists them. Here:
what the workload parses off this tree's checkout page places an order as it
is, and this tree's OpenAPI document says the API takes an address; a form
and a document without them get none.
"""

from __future__ import annotations

import copy

from bench.shopper_input import SHIP_TO, Forms, api_asks_shipping, shipping_for
from tests.support.factories import make_book


def test_what_the_workload_reads_off_the_checkout_form_places_the_order(shop_app, shopper):
    browser, _ = shopper
    book = make_book(shop_app, "Emma", stock=3)
    browser.submit(browser.get(f"/books/{book}"), "/cart/add", {"quantity": "1"})
    review = browser.client.get("/checkout")
    action, fields = Forms(review.get_data(as_text=True)).forms["/checkout"]
    assert shipping_for(fields) == SHIP_TO  # every shipping field is on the form, the country <select> included
    assert fields["shipping_option"] == "standard" and fields["country"] == ""  # what a browser would send untouched
    placed = browser.client.post(action, data={**fields, **shipping_for(fields)})
    assert placed.status_code == 303 and "/purchases/" in placed.headers["Location"], placed.get_data(as_text=True)


def test_a_checkout_form_from_before_shipping_gets_no_shipping_fields():
    page = '<form method="post" action="/checkout"><input type="hidden" name="csrf_token" value="t"></form>'
    _, fields = Forms(page).forms["/checkout"]
    assert fields == {"csrf_token": "t"} and shipping_for(fields) == {}


def test_the_workload_asks_the_trees_openapi_document_whether_the_api_takes_an_address(shop_app):
    document = shop_app.test_client().get("/api/v1/openapi.json").get_json()
    assert api_asks_shipping(document)
    older = copy.deepcopy(document)
    body = older["paths"]["/api/v1/purchases"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    name = body["$ref"].rsplit("/", 1)[1]
    del older["components"]["schemas"][name]["properties"]["shipping_address"]
    assert not api_asks_shipping(older)
    assert not api_asks_shipping({"paths": {}})
