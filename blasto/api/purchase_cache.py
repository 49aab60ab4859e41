"""`GET /api/v1/purchases` pages kept in Redis until something they show changes.

Why: a program polling a shopper's history re-reads the same page, and each
read from Postgres costs several times a bare Flask request (docs/BENCHMARKS.md).
A hit is one Redis round trip: no database connection and, answered by
blasto.api.cached_pages in front of Flask, no Flask request either.

Exact, not "fresh within a TTL":
- Every page key carries its owner's purchase generation and the catalogue's
  (titles show on the lines). A commit that adds a purchase increments the
  owner's generation (a session hook, so every checkout path is covered), and
  retitling a book increments the catalogue's, before the response goes out:
  the next read, by anyone, misses.
- A page read from Postgres is stored under the generations read before the
  query. If a purchase committed meanwhile, that key is one nobody reads any
  more; the store script sees the newer generation and skips writing it.
- A token's digest maps to its user for at most TOKEN_SECONDS and never past
  the token's expiry. Revoking writes a tombstone, before and after its commit,
  that a racing read cannot overwrite (SET NX): a revoked token stops working
  at once.
- Keys are namespaced by the database they describe (host, port, name), so two
  apps sharing one Redis never serve each other's pages, and pages are kept per
  token (random), not per user id, so a database reset under the same name
  (ids start again) cannot meet a page cached before it.

Any Redis error sends the request to Postgres as if uncached and pauses the
cache in this process for a few seconds. Only a Redis that fails exactly for
a commit's bump (or both tombstones) yet answers the next read can leave a
stale page for PURCHASE_CACHE_SECONDS (or a revoked token readable for
TOKEN_SECONDS) at most. Without REDIS_URL there is no cache.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime

import redis
from flask import Flask, Response, current_app, has_app_context, request
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import event
from sqlalchemy.engine import make_url

from blasto.core.config import redis_tls_options
from blasto.core.extensions import db
from blasto.models import Purchase
from blasto.models.base import utcnow

log = logging.getLogger(__name__)

EXTENSION_KEY = "blasto.purchase_cache"
TOKEN_SECONDS = 60
TOMBSTONE = "revoked"
TOMBSTONE_SECONDS = 2 * TOKEN_SECONDS  # outlives any read that saw the token before it was revoked
GENERATION_SECONDS = 7 * 24 * 3600  # far above a page's lifetime, so a reset counter meets no old page
PAUSE_AFTER_ERROR_SECONDS = 5.0
REDIS_TIMEOUT_SECONDS = 0.25
MAX_QUERY_BYTES = 100  # longer query strings are never a page worth keeping
_CHANGED_OWNERS = "blasto.purchase_cache.owners"
MISS_KEY = "blasto.purchase_cache.miss"  # WSGI environ: the lookup that missed, for the view to store its page

# KEYS: token key. ARGV: namespace, page suffix, tombstone, digest. -> nil | {who, owner gen, catalogue gen, body|nil}
_READ = """
local who = redis.call('GET', KEYS[1])
if not who or who == ARGV[3] then return false end
local owner = string.match(who, '^(%d+):')
local ns = ARGV[1]
local og = redis.call('GET', ns .. 'gen:user:' .. owner) or '0'
local cg = redis.call('GET', ns .. 'gen:catalog') or '0'
local body = redis.call('GET', ns .. 'page:' .. ARGV[4] .. ':' .. og .. ':' .. cg .. ':' .. ARGV[2])
return {who, og, cg, body}
"""
# KEYS: owner gen, catalogue gen, page key. ARGV: owner gen read, catalogue gen read, body, seconds.
_STORE = """
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[4])
return 1
"""


@dataclass
class Lookup:
    """What a read found: who the token belongs to and, on a hit, the page."""

    digest: str
    user_id: int
    token_id: int
    owner_generation: str
    catalog_generation: str
    body: bytes | None


@dataclass
class Miss:
    """A read that found no page: what the view needs to store the one it builds."""

    cache: "PurchaseCache"
    digest: str
    suffix: str
    found: Lookup | None  # None: the token was not known


class PurchaseCache:
    def __init__(self, client: redis.Redis, namespace: str, seconds: int):
        self.client = client
        self.namespace = namespace
        self.seconds = seconds
        self.paused_until = 0.0
        self._read = client.register_script(_READ)
        self._store = client.register_script(_STORE)

    # Reads -----------------------------------------------------------------

    def paused(self) -> bool:
        return time.monotonic() < self.paused_until

    def lookup(self, digest: str, suffix: str) -> Lookup | None:
        if self.paused():
            return None
        found = self._guard(lambda: self._read(keys=[self._token_key(digest)], args=[self.namespace, suffix, TOMBSTONE, digest]))
        if not found:
            return None
        who, owner_generation, catalog_generation, body = found
        user_id, _, token_id = who.decode().partition(":")
        return Lookup(digest, int(user_id), int(token_id), owner_generation.decode(), catalog_generation.decode(), body)

    def store_page(self, found: Lookup, suffix: str, body: bytes) -> None:
        keys = [self._owner_key(found.user_id), self._catalog_key(), self._page_key(found, suffix)]
        self._guard(lambda: self._store(keys=keys, args=[found.owner_generation, found.catalog_generation, body, self.seconds]))

    def remember_token(self, digest: str, user_id: int, token_id: int, expires_at: datetime) -> None:
        seconds = min(TOKEN_SECONDS, math.floor((expires_at - utcnow()).total_seconds()))
        if seconds >= 1:  # NX: never over a revocation's tombstone
            self._guard(lambda: self.client.set(self._token_key(digest), f"{user_id}:{token_id}", ex=seconds, nx=True))

    # Writes ----------------------------------------------------------------

    def token_revoked(self, digest: str) -> None:
        self._guard(lambda: self.client.set(self._token_key(digest), TOMBSTONE, ex=TOMBSTONE_SECONDS), pause=False)

    def purchases_changed(self, user_ids) -> None:
        self._bump([self._owner_key(user_id) for user_id in sorted(user_ids)])

    def catalog_changed(self) -> None:
        self._bump([self._catalog_key()])

    def _bump(self, generation_keys: list[str]) -> None:
        """Increment these generations (one round trip): every page stored under the old ones is unreachable."""

        def bump():
            with self.client.pipeline(transaction=False) as pipe:
                for key in generation_keys:
                    pipe.incr(key)
                    pipe.expire(key, GENERATION_SECONDS)
                pipe.execute()

        self._guard(bump, pause=False)

    # Keys and errors -------------------------------------------------------

    def _token_key(self, digest: str) -> str:
        return f"{self.namespace}token:{digest}"

    def _owner_key(self, user_id: int) -> str:
        return f"{self.namespace}gen:user:{user_id}"

    def _catalog_key(self) -> str:
        return f"{self.namespace}gen:catalog"

    def _page_key(self, found: Lookup, suffix: str) -> str:
        return f"{self.namespace}page:{found.digest}:{found.owner_generation}:{found.catalog_generation}:{suffix}"

    def _guard(self, call, pause: bool = True):
        """Run a Redis call; on failure log it, pause reads here a moment, and carry on without the cache."""
        try:
            return call()
        except (redis.RedisError, OSError) as exc:
            if pause:
                self.paused_until = time.monotonic() + PAUSE_AFTER_ERROR_SECONDS
            log.warning("purchase cache unavailable", extra={"error": type(exc).__name__})
            return None


def namespace_for(database_uri: str) -> str:
    """A key prefix naming the database (not its credentials, which Heroku rotates)."""
    url = make_url(database_uri)
    identity = f"{url.get_backend_name()}://{url.host or ''}:{url.port or ''}/{url.database or ''}"
    return f"blasto:pc:{hashlib.sha256(identity.encode()).hexdigest()[:12]}:"


def init_purchase_cache(app: Flask) -> None:
    """Build this app's cache (or none) and hook the generation bumps to the session."""
    settings = app.config.get("PURCHASE_CACHE")
    if not settings:
        return
    # Blocking and capped: threads share PURCHASE_CACHE_MAX_CONNECTIONS (Heroku's small Redis plans count each one).
    pool = redis.BlockingConnectionPool.from_url(
        settings["url"], max_connections=app.config.get("PURCHASE_CACHE_MAX_CONNECTIONS", 1),
        timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0), health_check_interval=30, **redis_tls_options(settings["url"]),
    )
    namespace = namespace_for(app.config["SQLALCHEMY_DATABASE_URI"])
    app.extensions[EXTENSION_KEY] = PurchaseCache(redis.Redis(connection_pool=pool), namespace, settings["seconds"])
    if not event.contains(db.session, "after_flush", _collect_owners):
        event.listen(db.session, "after_flush", _collect_owners)
        event.listen(db.session, "after_commit", _bump_owners)
        event.listen(db.session, "after_rollback", _forget_owners)


def purchase_cache() -> PurchaseCache | None:
    return current_app.extensions.get(EXTENSION_KEY) if has_app_context() else None


def page_suffix(environ) -> str:
    """What a page is kept under besides its token: the raw query string and the script root its links carry."""
    return f"{environ.get('QUERY_STRING', '')}|{environ.get('SCRIPT_NAME', '')}"


def keep_page(token, response: Response) -> None:
    """After a miss: remember the (accepted) token, or store the page under the generations read before the query."""
    miss = request.environ.pop(MISS_KEY, None)
    if miss is None:
        return
    if miss.found is None:  # the token was not known: next time it is, with the generations to check
        miss.cache.remember_token(miss.digest, token.user_id, token.token_id, token.expires_at)
    elif miss.found.user_id == token.user_id:
        miss.cache.store_page(miss.found, miss.suffix, response.get_data())


def catalog_changed() -> None:
    """Call after committing a change to what a purchase line shows (a book's title)."""
    cache = purchase_cache()
    if cache is not None:
        cache.catalog_changed()


def purchases_changed(user_ids) -> None:
    """Call after committing purchases written around the session's hook (bulk inserts)."""
    cache = purchase_cache()
    if cache is not None and user_ids:
        cache.purchases_changed(user_ids)


def token_revoked(digest: str) -> None:
    """Call after committing a token's revocation."""
    cache = purchase_cache()
    if cache is not None:
        cache.token_revoked(digest)


def _collect_owners(session, _flush_context) -> None:
    owners = {obj.user_id for obj in session.new if isinstance(obj, Purchase)}
    owners |= {obj.user_id for obj in session.dirty if isinstance(obj, Purchase)}
    if owners:
        session.info.setdefault(_CHANGED_OWNERS, set()).update(owners)


def _forget_owners(session) -> None:
    session.info.pop(_CHANGED_OWNERS, None)


def _bump_owners(session) -> None:
    owners = session.info.pop(_CHANGED_OWNERS, None)
    cache = purchase_cache() if owners else None
    if cache is not None:
        cache.purchases_changed(owners)
