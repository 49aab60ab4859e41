"""GET /api/v1/purchases from Redis: hits skip the database, and no change is ever missed.

A real Redis (the tests' database); the shop's database is SQLite here (the
cache does not care which), with a Postgres run of the race-free store below.
Each test's database has its own key namespace, so tests never share pages.
"""
from __future__ import annotations

import socket
from datetime import timedelta

import pytest
import redis
from sqlalchemy import update

from blasto.api.purchase_cache import EXTENSION_KEY, TOMBSTONE, namespace_for
from blasto.core.extensions import db
from blasto.models import ApiToken
from blasto.models.base import utcnow
from blasto.models.token import token_digest
from blasto.shop.checkout import place_order
from tests.api.conftest import ApiClient, assert_error, bearer
from tests.conftest import migrated
from tests.functional.browser import Browser
from tests.functional.conftest import ADMIN, log_in
from tests.functional.factories import make_admin, make_book, make_purchase
from tests.support.sql import recorded_statements


@pytest.fixture
def cached_app(app_factory, redis_url):
    return migrated(app_factory(PURCHASE_CACHE={"url": redis_url, "seconds": 60}))


@pytest.fixture
def api(cached_app) -> ApiClient:
    return ApiClient(cached_app)


@pytest.fixture
def shopper(cached_app, api) -> dict:
    """A shopper with 3 purchases of 2 books."""
    shopper = api.user("cached@example.com")
    books = [make_book(cached_app, "Emma"), make_book(cached_app, "Persuasion", price_cents=899)]
    for n in range(3):
        make_purchase(cached_app, shopper["id"], {books[n % 2]: n + 1})
    return {**shopper, "books": books}


def cache_of(app):
    return app.extensions[EXTENSION_KEY]


def page(api, user, query="") -> dict:
    response = api.get(f"/api/v1/purchases{query}", user)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def test_the_third_read_is_served_without_touching_the_database_and_is_byte_identical(cached_app, api, shopper):
    first = page(api, shopper)  # learns the token
    second = page(api, shopper)  # stores the page
    with recorded_statements(cached_app) as seen:
        third = page(api, shopper)
    assert seen == []
    assert third.get_data() == second.get_data() == first.get_data()
    assert third.mimetype == "application/json" and third.headers["Content-Length"] == str(len(first.get_data()))
    assert third.get_json()["_meta"]["total_items"] == 3


def test_each_page_and_size_is_its_own_entry(api, shopper):
    for _ in range(3):
        one = page(api, shopper, "?per_page=2").get_json()
        two = page(api, shopper, "?per_page=2&page=2").get_json()
    assert [p["id"] for p in one["items"]] != [p["id"] for p in two["items"]]
    assert len(one["items"]) == 2 and len(two["items"]) == 1
    assert one["_links"]["next"] == "/api/v1/purchases?page=2&per_page=2"


def test_a_purchase_through_the_api_shows_on_the_very_next_read(api, shopper):
    for _ in range(3):
        assert page(api, shopper).get_json()["_meta"]["total_items"] == 3
    bought = api.buy(shopper, [{"product_id": shopper["books"][0], "quantity": 2}])
    assert bought.status_code == 201
    listed = page(api, shopper).get_json()
    assert listed["_meta"]["total_items"] == 4 and listed["items"][0]["id"] == bought.get_json()["id"]


def test_a_checkout_outside_the_api_also_drops_the_cached_pages(cached_app, api, shopper):
    """The session hook covers every path that commits a purchase (the site's checkout uses place_order)."""
    for _ in range(3):
        page(api, shopper)
    with cached_app.test_request_context():
        place_order(shopper["id"], {shopper["books"][1]: 1})
    assert page(api, shopper).get_json()["_meta"]["total_items"] == 4


def test_a_purchase_that_rolls_back_drops_nothing(cached_app, api, shopper, redis_url):
    for _ in range(3):
        page(api, shopper)
    owner_key = f"{cache_of(cached_app).namespace}gen:user:{shopper['id']}"
    client = redis.Redis.from_url(redis_url)
    before = client.get(owner_key)
    response = api.buy(shopper, [{"product_id": shopper["books"][0], "quantity": 99}])  # only 5 in stock
    assert response.status_code == 409
    assert client.get(owner_key) == before
    with recorded_statements(cached_app) as seen:
        page(api, shopper)
    assert seen == []


def test_retitling_a_book_in_the_admin_shows_the_new_title_at_once(cached_app, api, shopper):
    for _ in range(3):
        page(api, shopper)
    cached_app.config["FRONT_PAGE_TTL_SECONDS"] = 0
    make_admin(cached_app, ADMIN)
    admin = Browser(cached_app.test_client())
    log_in(admin, ADMIN)
    book = shopper["books"][0]
    form = admin.get(f"/admin/books/{book}/edit")
    saved = admin.submit(form, f"/admin/books/{book}/edit", {"title": "Emma, a novel"})
    assert "Saved" in saved.text
    titles = {line["title"] for purchase in page(api, shopper).get_json()["items"] for line in purchase["items"]}
    assert titles == {"Emma, a novel", "Persuasion"}


def test_a_revoked_token_is_refused_at_once_even_after_being_cached(api, shopper):
    for _ in range(3):
        page(api, shopper)
    assert api.http.delete("/api/v1/tokens", headers=shopper["headers"]).status_code == 204
    assert_error(api.get("/api/v1/purchases", shopper), 401)
    assert_error(api.get("/api/v1/purchases", shopper), 401)


def test_a_read_that_raced_a_revocation_cannot_bring_the_token_back(cached_app, api, shopper, redis_url):
    cache = cache_of(cached_app)
    digest = token_digest(shopper["token"])
    cache.token_revoked(digest)
    with cached_app.app_context():
        cache.remember_token(digest, shopper["id"], 1, utcnow() + timedelta(hours=1))
    assert redis.Redis.from_url(redis_url).get(f"{cache.namespace}token:{digest}").decode() == TOMBSTONE


def test_a_token_is_remembered_no_longer_than_it_lives(cached_app, api, shopper, redis_url):
    cache = cache_of(cached_app)
    client = redis.Redis.from_url(redis_url)
    with cached_app.app_context():
        cache.remember_token("a" * 64, shopper["id"], 1, utcnow() + timedelta(seconds=2.5))
        cache.remember_token("b" * 64, shopper["id"], 1, utcnow() + timedelta(seconds=0.5))
        cache.remember_token("c" * 64, shopper["id"], 1, utcnow() + timedelta(days=1))
    assert 1 <= client.ttl(f"{cache.namespace}token:{'a' * 64}") <= 2
    assert client.exists(f"{cache.namespace}token:{'b' * 64}") == 0  # under a second left: not worth it
    assert 55 <= client.ttl(f"{cache.namespace}token:{'c' * 64}") <= 60


def test_an_expired_token_is_refused_once_its_remembered_time_is_up(cached_app, api, shopper, redis_url):
    """Expiry is checked by the TTL: the digest's entry is gone when the token dies."""
    for _ in range(3):
        page(api, shopper)
    with cached_app.app_context():
        db.session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    cache = cache_of(cached_app)
    redis.Redis.from_url(redis_url).delete(f"{cache.namespace}token:{token_digest(shopper['token'])}")  # as its TTL would
    assert_error(api.get("/api/v1/purchases", shopper), 401)


def test_a_page_read_before_a_purchase_is_not_stored_after_it(cached_app, api, shopper, redis_url):
    """The race: generations read, then a purchase commits, then the old page would be stored."""
    page(api, shopper)  # learns the token
    cache = cache_of(cached_app)
    with cached_app.test_request_context():
        found = cache.lookup(token_digest(shopper["token"]), "|")
        assert found is not None and found.body is None
        cache.purchases_changed({shopper["id"]})  # a purchase committed meanwhile
        cache.store_page(found, "|", b'{"stale": true}')
        assert cache.lookup(token_digest(shopper["token"]), "|").body is None
    # Not even written under the old generation, where nobody would read it.
    assert redis.Redis.from_url(redis_url).keys(f"{cache.namespace}page:*") == []


def test_shoppers_never_see_each_others_pages(cached_app, api, shopper):
    other = api.user("other@example.com")
    make_purchase(cached_app, other["id"], {shopper["books"][1]: 1})
    for _ in range(3):
        mine, theirs = page(api, shopper).get_json(), page(api, other).get_json()
    assert mine["_meta"]["total_items"] == 3 and theirs["_meta"]["total_items"] == 1
    assert not {p["id"] for p in mine["items"]} & {p["id"] for p in theirs["items"]}


def test_bad_tokens_and_arguments_are_refused_the_same_with_the_cache(api, shopper):
    for _ in range(3):
        page(api, shopper)
    assert_error(api.get("/api/v1/purchases", {"headers": bearer("not-a-token")}), 401)
    assert_error(api.http.get("/api/v1/purchases"), 401)
    assert_error(api.get("/api/v1/purchases?page=0", shopper), 422)
    assert_error(api.get("/api/v1/purchases?per_page=x", shopper), 422)
    assert page(api, shopper, "?per_page=1000").get_json()["_meta"]["per_page"] == 100  # capped, as uncached


def test_with_redis_down_every_read_still_answers_from_the_database(app_factory):
    with socket.socket() as placeholder:  # a port with nothing listening
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    app = migrated(app_factory(PURCHASE_CACHE={"url": f"redis://127.0.0.1:{port}/0", "seconds": 60}))
    api = ApiClient(app)
    user = api.user("down@example.com")
    book = make_book(app, "Emma")
    make_purchase(app, user["id"], {book: 1})
    for _ in range(3):
        assert page(api, user).get_json()["_meta"]["total_items"] == 1
    assert api.buy(user, [{"product_id": book, "quantity": 1}]).status_code == 201
    assert page(api, user).get_json()["_meta"]["total_items"] == 2
    assert api.http.delete("/api/v1/tokens", headers=user["headers"]).status_code == 204
    assert_error(api.get("/api/v1/purchases", user), 401)


def test_the_namespace_names_the_database_not_its_password():
    one = namespace_for("postgresql+psycopg://u:secret@db.example:5432/shop")
    assert one == namespace_for("postgresql+psycopg://u:rotated@db.example:5432/shop")
    assert one != namespace_for("postgresql+psycopg://u:secret@db.example:5432/staging")
    assert "secret" not in one and "shop" not in one


def test_without_redis_there_is_no_cache(app_factory):
    app = app_factory()
    assert app.config["PURCHASE_CACHE"] is None and EXTENSION_KEY not in app.extensions


@pytest.mark.parametrize("value", ["-1", "soon", "100000"])
def test_a_bad_cache_lifetime_is_a_clear_config_error(value):
    from blasto.core.config import purchase_cache_config
    from blasto.core.env import ConfigError

    with pytest.raises(ConfigError, match="PURCHASE_CACHE_SECONDS"):
        purchase_cache_config({"REDIS_URL": "redis://localhost:6379/0", "PURCHASE_CACHE_SECONDS": value})


def test_zero_turns_the_cache_off():
    from blasto.core.config import purchase_cache_config

    assert purchase_cache_config({"REDIS_URL": "redis://localhost:6379/0", "PURCHASE_CACHE_SECONDS": "0"}) is None
    assert purchase_cache_config({"REDIS_URL": "redis://localhost:6379/0"}) == {"url": "redis://localhost:6379/0", "seconds": 60}
