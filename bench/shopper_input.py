"""What the workload's users type and read, without Locust: the data set, forms as a browser submits them,
where the books ship, search terms, and whether the tree being measured asks for shipping.

bench/shoppers.py (under Locust) and bench/pages.py (in process, Flask's test
client) share it. Importing Locust patches the standard library for gevent,
so this module must not.

The workload adapts to the tree it runs against, so a before/after run can
cross a change of the forms or the API: the checkout form is posted with the
shipping fields only when the page rendered them, and an API purchase carries
`shipping_address` and `shipping_option` only when the tree's OpenAPI
document lists them (trees before 4c51f43 answer 422 to an unknown field).
"""

from __future__ import annotations

import json
import os
import random
import re
from functools import cache
from html.parser import HTMLParser
from urllib.parse import urlsplit

MISSED_SEARCHES = ("cookery", "gardening", "zzyzx")  # searches that find nothing


@cache
def data() -> dict:
    """The accounts and books of the data set (bench/dataset.py wrote it; BENCH_DATA names the file)."""
    with open(os.environ["BENCH_DATA"]) as file:
        return json.load(file)


FORM = re.compile(r"<form\b.*?</form>", re.IGNORECASE | re.DOTALL)  # HTML forms do not nest


class Forms(HTMLParser):
    """A page's forms as {action path: (action, fields)}, with what a browser would submit (CSRF token included).

    Only the forms are parsed, not the whole page: the load generator shares
    the machine's cores with the stack it measures, and html.parser costs it
    about 0.1 ms per kB (a 14 kB front page took 1.5 ms, more than the web
    process spent serving it), so parsing every page would tax larger pages
    on the generator's side, not the dyno's (docs/BENCHMARKS.md).
    """

    def __init__(self, html: str):
        super().__init__()
        self.forms: dict[str, tuple[str, dict[str, str]]] = {}
        self._fields: dict[str, str] | None = None
        self._select: str | None = None  # the <select> whose options are being read
        self._options = 0
        for form in FORM.findall(html):
            self.feed(form)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            action = attrs.get("action") or ""
            self._fields = self.forms.setdefault(urlsplit(action).path, (action, {}))[1]
        elif self._fields is None:
            return
        elif (
            tag == "input"
            and attrs.get("name")
            and (attrs.get("type") not in ("checkbox", "radio") or "checked" in attrs)
        ):  # unticked boxes send nothing
            self._fields[attrs["name"]] = attrs.get("value") or ""
        elif tag in ("select", "textarea") and attrs.get("name"):
            self._select, self._options = (attrs["name"] if tag == "select" else None), 0
            self._fields[attrs["name"]] = ""
        elif tag == "option" and self._select:  # a browser sends the selected option, else the first
            if "selected" in attrs or not self._options:
                self._fields[self._select] = attrs.get("value") or ""
            self._options += 1

    def handle_endtag(self, tag):
        if tag == "form":
            self._fields = None
        elif tag == "select":
            self._select = None


NO_FORM = ("", {})
# Where the shoppers' books go: typed at the checkout (new address, standard shipping), sent by the API.
ADDRESS = {
    "name": "Bench Reader",
    "line1": "1 Load Street",
    "city": "Dublin",
    "postal_code": "D02 X285",
    "country": "IE",
}
SHIP_TO = {"address": "new", "shipping_option": "standard", **ADDRESS}


def shipping_for(fields: dict[str, str]) -> dict[str, str]:
    """SHIP_TO's values for the fields the checkout form has: none on a tree from before shipping (9894282)."""
    return {name: value for name, value in SHIP_TO.items() if name in fields}


def search_term() -> str:
    """What shoppers type: an author's surname or a word of a title, sometimes only its start; a few find nothing."""
    if random.random() < 0.1:
        return random.choice(MISSED_SEARCHES)
    _, title, author = random.choice(data()["books"])
    word = random.choice([author.split()[-1], *(w for w in title.split() if len(w) > 3)])
    return word[: random.randint(4, len(word))] if len(word) > 4 and random.random() < 0.3 else word


def api_asks_shipping(openapi: dict) -> bool:
    """Whether the tree's `POST /api/v1/purchases` body has a `shipping_address` (its OpenAPI document says)."""
    try:
        body = openapi["paths"]["/api/v1/purchases"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        while "$ref" in body:
            body = openapi["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    except (KeyError, TypeError):
        return False
    return "shipping_address" in body.get("properties", {})
