"""This process's small Redis client for the health checks and the queue figures.

No retries (redis-py >= 6 retries a refused connection with backoff for
seconds, and kombu offers no setting for it), so a down Redis is seen within
the readiness budget; at most two connections per process, however often
/readyz is hit, because Heroku's small Redis plans count every client.
"""

from __future__ import annotations

import redis
from flask import current_app
from redis.backoff import NoBackoff
from redis.retry import Retry

from blasto.core.config import redis_tls_options

MAX_CONNECTIONS = 2


def is_redis(url: str) -> bool:
    return url.startswith(("redis://", "rediss://"))


def health_redis(url: str, timeout: float) -> redis.Redis:
    """The client for `url`, made on first use and kept in the app's extensions."""
    clients = current_app.extensions.setdefault("blasto.readiness_redis", {})
    client = clients.get(url)
    if client is None:
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=timeout,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            **redis_tls_options(url),
        )
        client = clients[url] = redis.Redis(connection_pool=pool)
    return client
