"""Redis over TLS with a self-signed certificate, as Heroku Key-Value Store gives an app (`rediss://`).

A TLS-ending proxy in front of the tests' own Redis database: the app makes a
real TLS handshake and is shown a certificate that no client trusts, so the
broker, result-backend and rate-limit settings for Heroku are tested against
real TLS with no `redis-server --tls-port` or `openssl` program (a Heroku CI
dyno has neither).
"""

from __future__ import annotations

import ssl
from contextlib import contextmanager
from pathlib import Path

from tests.support.redis_proxy import proxied_url, upstream
from tests.support.tcp_proxy import TcpProxy


def self_signed_context(directory: Path) -> ssl.SSLContext:
    """A server context whose certificate signs itself (trustme's throwaway root, used as the server's own)."""
    import trustme

    identity = trustme.CA(organization_name="Blasto test Redis")
    cert, key = directory / "redis-cert.pem", directory / "redis-key.pem"
    identity.cert_pem.write_to_path(str(cert))
    identity.private_key_pem.write_to_path(str(key))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@contextmanager
def tls_redis(directory: Path, upstream_url: str):
    """Yield a rediss:// URL to `upstream_url`'s database, through TLS that only an unverifying client accepts."""
    import redis

    with TcpProxy(*upstream(upstream_url), ssl_context=self_signed_context(directory)) as proxy:
        url = proxied_url(upstream_url, proxy.port, scheme="rediss")
        for refused in (proxied_url(upstream_url, proxy.port), url):  # plain Redis; TLS with verification
            client = redis.Redis.from_url(refused, socket_connect_timeout=5, socket_timeout=5)
            try:
                client.ping()
                raise AssertionError(f"{refused.split(':')[0]}:// with default settings should be refused")
            except redis.ConnectionError:
                pass
            finally:
                client.close()
        trusting = redis.Redis.from_url(url, ssl_cert_reqs="none", socket_connect_timeout=5)
        assert trusting.ping()
        trusting.close()
        yield url
