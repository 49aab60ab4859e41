"""A throwaway Redis that speaks only TLS with a self-signed certificate.

That is what Heroku Key-Value Store gives an app (`rediss://`), so the broker
and result-backend settings for it are tested against a real TLS server.
"""
from __future__ import annotations

import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import free_port, wait_for
from tests.support.services import unavailable


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=redis.example.internal",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


@contextmanager
def tls_redis(directory: Path):
    """Yield a rediss:// URL to a TLS-only redis-server of this test's own."""
    if not (shutil.which("redis-server") and shutil.which("openssl")):
        unavailable("redis-server and openssl are needed for the TLS Redis test")
    import redis

    cert, key = self_signed_certificate(directory)
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--tls-cert-file", str(cert), "--tls-key-file", str(key),
         "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"rediss://127.0.0.1:{port}/0"

    def answers() -> bool:
        try:
            return redis.Redis.from_url(url, ssl_cert_reqs="none", socket_connect_timeout=1).ping()
        except redis.RedisError:
            return False

    try:
        wait_for(answers, 15, what="the TLS redis-server")
        with_verification = redis.Redis.from_url(url, socket_connect_timeout=1)
        try:
            with_verification.ping()
            raise AssertionError("a self-signed certificate should fail normal verification")
        except redis.ConnectionError:
            pass
        yield url
    finally:
        server.terminate()
        server.wait(10)
