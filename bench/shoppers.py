"""The mixed shopper workload for Locust: who visits the shop and what each visit does.

Shoppers (four users in five) browse, search, open books and fill carts; some
sign in, check out through the real forms and read their purchases. API
clients (one in five) list products, buy with an `Idempotency-Key` and read
their purchases. The proportions, and why, are in docs/BENCHMARKS.md.

Each request carries what Heroku's router adds (X-Forwarded-Proto: https and
the visitor's address in X-Forwarded-For, a new one per visit), so the app
takes its production path: secure cookies, CSRF with its Referer check, rate
limits per address. Forms are posted with the fields the page rendered
(CSRF token included). Any status but the expected one is an error.

bench/run.py drives it through bench/load.py; by hand, against a running stack
whose database bench/dataset.py built:
`BENCH_DATA=bench/results/after.json .venv/bin/locust -f bench/shoppers.py --headless -u 40 -t 60s -H http://127.0.0.1:5000`
"""

from __future__ import annotations

import json
import random
import re
import threading
import uuid
from functools import cache
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import parse_qs, urlencode, urlsplit
from urllib.request import Request, urlopen

from locust import FastHttpUser, between, task

from bench.shopper_input import ADDRESS, NO_FORM, Forms, api_asks_shipping, data, search_term, shipping_for

# Of every 100 shopper visits: how many only browse, leave a filled cart, buy, or come back to read their orders.
BROWSE, ABANDON_CART, BUY, READ_ORDERS = 70, 16, 10, 4
NEW_VISITOR_SHARE = 0.5  # visits that load the stylesheet (the others have it cached)
API_RETRY_SHARE = 0.05  # API purchases sent twice with the same Idempotency-Key, as after a lost answer

# Set while users may send requests. bench/load.py's `steps` mode clears it between steps, so that one tree's
# users wait while the other tree's are measured (bench/run.py alternates the trees step by step). Made after
# Locust's import has patched threading for gevent: waiting on it lets the other users run.
RUNNING = threading.Event()
RUNNING.set()


@cache
def asks_shipping(host: str) -> bool:
    """Whether this server's API takes a shipping address, from its OpenAPI document: read once, outside the stats."""
    request = Request(f"{host}/api/v1/openapi.json", headers={"X-Forwarded-Proto": "https"})
    with urlopen(request, timeout=10) as answer:
        return api_asks_shipping(json.load(answer))


def location(response) -> str:
    """A redirect's target as path and query (Flask may send it absolute)."""
    parts = urlsplit(response.headers.get("Location", ""))
    return parts.path + (f"?{parts.query}" if parts.query else "")


class BehindTheRouter(DefaultCookiePolicy):
    """Keep the app's Secure cookies over plain HTTP: on Heroku, TLS ends at the router, never at the dyno."""

    def set_ok(self, cookie, request):
        cookie.secure = False
        return super().set_ok(cookie, request)


class Visitor(FastHttpUser):
    """Someone behind Heroku's router: a new address and no cookies at the start of each visit."""

    abstract = True
    wait_time = between(1, 3)  # reading a page; see docs/BENCHMARKS.md on think time
    network_timeout = 10.0
    connection_timeout = 5.0

    def on_start(self) -> None:
        self.client.cookiejar.set_policy(BehindTheRouter())

    def new_visit(self) -> None:
        self.address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
        self.client.cookiejar.clear()

    def call(self, method: str, path: str, name: str, expect: int = 200, redirect_to: str | None = None, **kwargs):
        """One request; an unexpected status (or redirect target) counts as an error under `name`."""
        if not RUNNING.is_set():
            RUNNING.wait()
            self.wait()  # a fresh think time: resumed users do not all send at once
        headers = {"X-Forwarded-For": self.address, "X-Forwarded-Proto": "https", **kwargs.pop("headers", {})}
        with self.client.request(
            method, path, name=name, headers=headers, allow_redirects=False, catch_response=True, **kwargs
        ) as response:
            if response.status_code != expect:
                response.failure(f"status {response.status_code}, expected {expect}")
            elif redirect_to is not None and not location(response).startswith(redirect_to):
                response.failure(f"redirected to {location(response)}, expected {redirect_to}")
            else:
                response.success()
        return response


def a_book() -> str:
    """The page of a book of the data set, picked at random."""
    return f"/books/{random.choice(data()['books'])[0]}"


_FREE_ACCOUNTS: list[str] = []  # shopper accounts no running Shopper holds (filled on first use)
_TAKEN_ACCOUNTS: set[str] = set()


def take_account() -> str:
    """A shopper account no other running Shopper uses: a person's cart follows their account, so two
    simulated people sharing one would each see the other's cart change under them."""
    if not _FREE_ACCOUNTS and not _TAKEN_ACCOUNTS:
        _FREE_ACCOUNTS.extend(reversed(data()["shoppers"]))
    if not _FREE_ACCOUNTS:
        raise RuntimeError(f"more shoppers than the {len(_TAKEN_ACCOUNTS)} accounts of the data set")
    email = _FREE_ACCOUNTS.pop()
    _TAKEN_ACCOUNTS.add(email)
    return email


def give_back_account(email: str) -> None:
    _TAKEN_ACCOUNTS.discard(email)
    _FREE_ACCOUNTS.append(email)


class Shopper(Visitor):
    """One person with an account of their own, who signs in with it when checking out or reading orders."""

    weight = 4

    def on_start(self) -> None:
        super().on_start()
        self.email = take_account()

    def on_stop(self) -> None:
        give_back_account(self.email)

    def page(self, path: str, name: str):
        """GET a page as a browser does (its forms are read only where the visit submits one: see Forms)."""
        response = self.call("GET", path, name)
        self.last_page = path
        return response

    def forms_on(self, path: str, name: str) -> dict[str, tuple[str, dict[str, str]]]:
        """GET a page and return its forms, to submit one."""
        response = self.page(path, name)
        return Forms(response.text).forms if response.status_code == 200 else {}

    def submit(self, forms: dict, path: str, label: str, redirect_to: str, values: dict[str, str] | None = None):
        """Submit the last page's form for `path` with `values` over its own fields, as a browser: with its Referer,
        which Flask-WTF checks over https. `label` names the request in the results."""
        action, fields = forms.get(path, NO_FORM)
        referer = f"https://{urlsplit(self.host).netloc}{self.last_page}"
        return self.call(
            "POST",
            action or path,
            label,
            expect=303,
            redirect_to=redirect_to,
            data=urlencode({**fields, **(values or {})}),
            headers={"Referer": referer, "Content-Type": "application/x-www-form-urlencoded"},
        )

    def arrive(self) -> None:
        self.new_visit()
        self.page("/home", "/home")
        if random.random() < NEW_VISITOR_SHARE:
            self.call("GET", "/static/css/site.css", "/static/css/site.css")

    def look_around(self) -> None:
        """The catalogue or a search, then a book or two."""
        self.wait()
        if random.random() < 0.5:
            self.page(f"/books?page={random.randint(1, 3)}", "/books")
        else:
            self.page(f"/books?{urlencode({'q': search_term()})}", "/books?q=")
        for _ in range(random.randint(1, 2)):
            self.wait()
            self.open_book()

    def open_book(self):
        return self.page(a_book(), "/books/<id>")

    def add_to_cart(self) -> None:
        """A book's page, its form posted as rendered; the browser follows the redirect to the cart."""
        forms = self.forms_on(a_book(), "/books/<id>")
        self.wait()
        added = self.submit(forms, "/cart/add", "/cart/add", redirect_to="/cart")
        self.page(location(added) or "/cart", "/cart")

    def sign_in(self, login_path: str) -> None:
        """The log-in page, then its form with a shopper's e-mail and the data set's password; on to `next`."""
        forms = self.forms_on(login_path, "/login")
        self.wait()
        then = parse_qs(urlsplit(login_path).query).get("next", ["/"])[0]
        self.submit(
            forms,
            "/login",
            "/login",
            redirect_to=then,
            values={"email": self.email, "password": data()["password"]},
        )

    @task(BROWSE)
    def browse(self):
        self.arrive()
        self.look_around()

    @task(ABANDON_CART)
    def abandon_cart(self):
        self.arrive()
        self.look_around()
        self.add_to_cart()

    @task(BUY)
    def buy(self):
        """Cart, checkout (which asks to log in first), the order placed, the purchase and the history."""
        self.arrive()
        self.look_around()
        for _ in range(random.randint(1, 2)):
            self.add_to_cart()
        self.wait()
        asked = self.call("GET", "/checkout", "/checkout (signed out)", expect=302, redirect_to="/login")
        self.sign_in(location(asked))
        forms = self.forms_on("/checkout", "/checkout")
        self.wait()
        ship_to = shipping_for(forms.get("/checkout", NO_FORM)[1])
        placed = self.submit(forms, "/checkout", "/checkout", redirect_to="/purchases/", values=ship_to)
        if placed.status_code == 303:
            self.page(location(placed), "/purchases/<id>")
            self.wait()
            self.page("/purchases", "/purchases")

    @task(READ_ORDERS)
    def read_orders(self):
        """Log in from the home page, the order history, one order."""
        self.arrive()
        self.wait()
        self.sign_in("/login?next=%2Fpurchases")
        history = self.call("GET", "/purchases", "/purchases").text
        self.last_page = "/purchases"
        orders = re.findall(r'href="(/purchases/\d+)"', history)
        if orders:
            self.wait()
            self.page(random.choice(orders), "/purchases/<id>")


class ApiClient(Visitor):
    """A program with a bearer token: products, a purchase with an Idempotency-Key, then its purchases."""

    weight = 1

    @task
    def buy_by_api(self):
        self.new_visit()
        auth = {"Authorization": f"Bearer {random.choice(data()['api_tokens'])}"}
        self.call("GET", f"/api/v1/products?page={random.randint(1, 3)}", "/api/v1/products", headers=auth)
        self.wait()
        book_id = random.choice(data()["books"])[0]
        self.call("GET", f"/api/v1/products/{book_id}", "/api/v1/products/<id>", headers=auth)
        self.wait()
        order: dict = {"items": [{"product_id": book_id, "quantity": random.randint(1, 2)}]}
        if asks_shipping(self.host):
            order.update(shipping_address=ADDRESS, shipping_option=random.choice(("standard", "express")))
        headers = {**auth, "Idempotency-Key": uuid.uuid4().hex}
        self.call("POST", "/api/v1/purchases", "/api/v1/purchases", expect=201, json=order, headers=headers)
        if random.random() < API_RETRY_SHARE:
            self.call(
                "POST", "/api/v1/purchases", "/api/v1/purchases (retried)", expect=201, json=order, headers=headers
            )
        self.wait()
        self.call("GET", "/api/v1/purchases", "/api/v1/purchases", headers=auth)
