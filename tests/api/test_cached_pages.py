"""Cached purchases pages answered in front of Flask: the same answer, for exactly the requests the view would give it.

The behaviour of the cache itself (what is kept, what drops it) is in
test_purchase_cache.py; these check the WSGI fast path that serves its hits.
Real Redis (the tests' database), SQLite for the shop.
"""
from __future__ import annotations

import socket
import time

import pytest
import redis
from flask import request

from blasto.api.purchase_cache import EXTENSION_KEY, MISS_KEY, PAUSE_AFTER_ERROR_SECONDS
from tests.api.conftest import ApiClient, assert_error
from tests.conftest import migrated
from tests.functional.factories import make_book, make_purchase

PATH = "/api/v1/purchases"


def build(app_factory, redis_url, **config):
    return migrated(app_factory(PURCHASE_CACHE={"url": redis_url, "seconds": 60}, **config))


def shopper_of(app) -> tuple[ApiClient, dict]:
    api = ApiClient(app)
    shopper = api.user("fast@example.com")
    book = make_book(app, "Emma")
    for n in range(3):
        make_purchase(app, shopper["id"], {book: n + 1})
    return api, shopper


def count_flask_requests(app) -> list:
    """A before-request hook that notes each request Flask itself handles (added before the first request)."""
    seen = []
    app.before_request(lambda: seen.append(1))
    return seen


def lookups_of(app) -> list:
    """Wrap the real cache's lookup to count the Redis reads."""
    cache = app.extensions[EXTENSION_KEY]
    calls, lookup = [], cache.lookup
    cache.lookup = lambda *args: calls.append(args) or lookup(*args)
    return calls


def without_request_id(response) -> list:
    return [(name, value) for name, value in response.headers.items() if name != "X-Request-Id"]


@pytest.fixture
def cached_app(app_factory, redis_url):
    return build(app_factory, redis_url)


def test_a_hit_skips_flask_and_carries_the_views_exact_headers_and_body(cached_app):
    flask_saw = count_flask_requests(cached_app)
    api, shopper = shopper_of(cached_app)
    api.get(PATH, shopper)  # learns the token
    before = len(flask_saw)
    stored = api.get(PATH, shopper)  # the view's answer, kept
    hit = api.get(PATH, shopper)
    assert len(flask_saw) == before + 1  # the view's read only
    assert hit.status_code == 200 and hit.get_data() == stored.get_data()
    assert without_request_id(hit) == without_request_id(stored)
    assert hit.headers["X-Request-Id"] and hit.headers["X-Request-Id"] != stored.headers["X-Request-Id"]
    assert hit.headers["Content-Security-Policy"] and hit.headers["Vary"] == "Cookie"


def test_a_miss_reads_redis_once_and_hands_its_lookup_to_the_view(cached_app):
    api, shopper = shopper_of(cached_app)
    lookups = lookups_of(cached_app)
    api.get(PATH, shopper)
    api.get(PATH, shopper)
    assert len(lookups) == 2
    api.get(PATH, shopper)
    assert len(lookups) == 3


def test_a_client_sending_the_scheme_in_lower_case_and_extra_spaces_hits_as_the_view_accepts_it(cached_app):
    flask_saw = count_flask_requests(cached_app)
    api, shopper = shopper_of(cached_app)
    loose = {"headers": {"Authorization": f"bearer   {shopper['token']}  "}}
    for _ in range(2):
        assert api.get(PATH, loose).status_code == 200
    before = len(flask_saw)
    assert api.get(PATH, loose).get_json()["_meta"]["total_items"] == 3 and len(flask_saw) == before


@pytest.mark.parametrize("authorization", ["Basic Zm9vOmJhcg==", "Bearer", "Bearer " + "x" * 201, "Token abc"])
def test_what_is_not_a_bearer_token_goes_to_the_view_and_its_401(cached_app, authorization):
    api, shopper = shopper_of(cached_app)
    for _ in range(3):
        api.get(PATH, shopper)
    assert_error(api.http.get(PATH, headers={"Authorization": authorization}), 401)


def test_other_methods_and_paths_are_flasks(cached_app):
    api, shopper = shopper_of(cached_app)
    for _ in range(3):
        api.get(PATH, shopper)
    head = api.http.head(PATH, headers=shopper["headers"])
    assert head.status_code == 200 and head.get_data() == b""
    assert api.http.get(PATH + "/", headers=shopper["headers"]).status_code in (308, 404)
    assert_error(api.http.put(PATH, headers=shopper["headers"]), 405)


def test_a_long_query_string_is_answered_by_the_view_and_never_kept(cached_app, redis_url):
    api, shopper = shopper_of(cached_app)
    query = "?per_page=20&page=1" + "&page=1" * 20
    for _ in range(3):
        assert api.get(PATH + query, shopper).get_json()["_meta"]["total_items"] == 3
    namespace = cached_app.extensions[EXTENSION_KEY].namespace
    assert redis.Redis.from_url(redis_url).keys(f"{namespace}page:*") == []


def test_pages_are_kept_per_script_root_because_their_links_carry_it(cached_app):
    api, shopper = shopper_of(cached_app)
    for _ in range(3):
        plain = api.get(PATH, shopper).get_json()
        mounted = api.http.get(PATH, headers=shopper["headers"], environ_overrides={"SCRIPT_NAME": "/shop"}).get_json()
    assert plain["_links"]["self"].startswith("/api/v1/purchases")
    assert mounted["_links"]["self"].startswith("/shop/api/v1/purchases")


def test_in_production_plain_http_through_the_router_is_still_redirected_and_https_hits(app_factory, redis_url):
    app = build(app_factory, redis_url, BLASTO_ENV="production")
    flask_saw = count_flask_requests(app)
    api, shopper = shopper_of(app)
    https = {"X-Forwarded-Proto": "https", **shopper["headers"]}
    for _ in range(2):
        assert api.http.get(PATH, headers=https).status_code == 200
    before = len(flask_saw)
    hit = api.http.get(PATH, headers=https)
    assert hit.status_code == 200 and len(flask_saw) == before
    assert hit.headers["Strict-Transport-Security"].startswith("max-age=")
    plain = api.http.get(PATH, headers={"X-Forwarded-Proto": "http", **shopper["headers"]})  # the page kept above
    assert plain.status_code == 301 and plain.headers["Location"] == "https://localhost/api/v1/purchases"


def test_after_a_redis_error_the_view_answers_and_redis_is_left_alone_for_a_while(app_factory):
    with socket.socket() as placeholder:  # a port with nothing listening
        placeholder.bind(("127.0.0.1", 0))
        app = build(app_factory, f"redis://127.0.0.1:{placeholder.getsockname()[1]}/0")
    environs = []
    app.before_request(lambda: environs.append(dict(request.environ)))
    api, shopper = shopper_of(app)
    cache, lookups = app.extensions[EXTENSION_KEY], lookups_of(app)
    assert api.get(PATH, shopper).get_json()["_meta"]["total_items"] == 3
    assert len(lookups) == 1 and 0 < cache.paused_until - time.monotonic() <= PAUSE_AFTER_ERROR_SECONDS
    assert MISS_KEY not in environs[-1]  # so the view does not try to store its page either
    assert api.get(PATH, shopper).get_json()["_meta"]["total_items"] == 3
    assert len(lookups) == 1


def test_without_a_cache_every_read_is_the_views(app_factory):
    app = migrated(app_factory())
    flask_saw = count_flask_requests(app)
    api, shopper = shopper_of(app)
    before = len(flask_saw)
    for _ in range(3):
        assert api.get(PATH, shopper).get_json()["_meta"]["total_items"] == 3
    assert len(flask_saw) == before + 3
