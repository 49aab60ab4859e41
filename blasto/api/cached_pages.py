"""`GET /api/v1/purchases` answered from the page cache before Flask builds a request.

Why: on a hit the page is already bytes in Redis, yet Flask's request
context, session, hooks and response object cost more than the Redis lookup
itself (in-process about 150 of 260 µs; docs/BENCHMARKS.md). Like Django's
FetchFromCacheMiddleware, this sits in front of the framework and answers
only a request the view would answer with exactly that page:

- a GET of the list's own path with a well-formed bearer token and a query
  string short enough to have been kept (pages are stored only by requests
  whose query string the view accepted, so a hit needs no parsing);
- not one the production redirect sends on to HTTPS;
- while the cache is not paused after a Redis error.

Everything else, a miss included, goes to Flask untouched. A miss leaves its
lookup in the WSGI environ, so the view stores the page it builds without
asking Redis twice (blasto.api.purchase_cache.keep_page). The middleware is
inside ProxyFix (it needs the client's scheme) and inside the request-id and
security-header middlewares, so a hit carries the same headers as the view's
answer (tests/api/test_cached_pages.py compares them).
"""
from __future__ import annotations

from flask import Flask

from blasto.api import URL_PREFIX
from blasto.api.auth import MAX_TOKEN_LENGTH, bearer_in
from blasto.api.purchase_cache import EXTENSION_KEY, MAX_QUERY_BYTES, MISS_KEY, Miss, page_suffix
from blasto.models.token import token_digest
from blasto.web.https import plain_http_via_router, redirects_plain_http

PATH = f"{URL_PREFIX}/purchases"


class CachedPurchasePages:
    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.redirects_plain_http = redirects_plain_http(app)

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == PATH and environ.get("REQUEST_METHOD") == "GET":
            body = self.cached_page(environ)
            if body is not None:
                # The view's headers: jsonify's, and the Vary that Flask adds because Flask-Login reads the session.
                start_response("200 OK", [
                    ("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Vary", "Cookie"),
                ])
                return [body]
        return self.wsgi_app(environ, start_response)

    def cached_page(self, environ) -> bytes | None:
        """The page to answer with, or None (after noting a miss in `environ` for the view)."""
        cache = self.app.extensions.get(EXTENSION_KEY)
        if cache is None or cache.paused() or len(environ.get("QUERY_STRING", "")) > MAX_QUERY_BYTES:
            return None
        if self.redirects_plain_http and plain_http_via_router(environ):
            return None
        token = bearer_in(environ.get("HTTP_AUTHORIZATION", ""))
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None  # the view's 401
        digest, suffix = token_digest(token), page_suffix(environ)
        found = cache.lookup(digest, suffix)
        if found is not None and found.body is not None:
            return found.body
        if not cache.paused():  # a Redis error just now: the view reads Postgres and keeps nothing
            environ[MISS_KEY] = Miss(cache, digest, suffix, found)
        return None


def install_cached_pages(app: Flask) -> None:
    """Wrap the app's WSGI callable; call before ProxyFix wraps it (see create_app)."""
    app.wsgi_app = CachedPurchasePages(app, app.wsgi_app)  # type: ignore[method-assign]
