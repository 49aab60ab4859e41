"""The tests' Redis database behind a TCP proxy, to take Redis away from an app and bring it back.

A Heroku CI dyno has no `redis-server` to stop and start, only the Redis that
REDIS_URL names, which other tests share; cutting the app's own path to it is
the outage instead. `down()` refuses new connections and cuts the open ones;
`up()` empties the database first, as a Redis restarted without persistence
comes back, then listens again on the same port.
"""

from __future__ import annotations

from typing import Self
from urllib.parse import urlsplit, urlunsplit

from tests.support.tcp_proxy import TcpProxy


def upstream(url: str) -> tuple[str, int]:
    """The host and port a Redis URL names."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 6379


def proxied_url(url: str, port: int, scheme: str | None = None) -> str:
    """`url` (same credentials and database) through a proxy on 127.0.0.1:`port`."""
    parts = urlsplit(url)
    credentials, _, _ = parts.netloc.rpartition("@")
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    return urlunsplit((scheme or parts.scheme, netloc, parts.path, parts.query, ""))


class RedisProxy:
    def __init__(self, upstream_url: str):
        self.upstream_url = upstream_url
        self._proxy = TcpProxy(*upstream(upstream_url))
        self.url = proxied_url(upstream_url, self._proxy.port)

    @property
    def port(self) -> int:
        return self._proxy.port

    @property
    def is_up(self) -> bool:
        return self._proxy.is_up

    def up(self) -> Self:
        """Empty the database, then accept connections again on the same port."""
        import redis

        client = redis.Redis.from_url(self.upstream_url, socket_connect_timeout=5, socket_timeout=10)
        try:
            client.flushdb()
        finally:
            client.close()
        self._proxy.up()
        return self

    def down(self) -> None:
        """Refuse new connections and cut the open ones, as when the server goes away."""
        self._proxy.down()

    def close(self) -> None:
        self._proxy.close()

    def __enter__(self) -> Self:
        return self.up()

    def __exit__(self, *exc) -> None:
        self.close()
