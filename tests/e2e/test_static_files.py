"""gunicorn from the Procfile serves the hashed stylesheet compressed, cached a year, with the security headers."""

from __future__ import annotations

import gzip
import re

import pytest
from whitenoise.compress import brotli_installed

from blasto.web.static_assets import STATIC_DIR, YEAR_CACHE
from tests.support.http_client import raw_request
from tests.support.processes import procfile, production_env, run_command, wait_for

pytestmark = pytest.mark.processes


def test_gunicorn_serves_hashed_assets_compressed_and_cached_a_year(
    start_stack, postgres_database, redis_url, empty_env_file
):
    env = production_env(DATABASE_URL=postgres_database, REDIS_URL=redis_url)
    release = run_command(procfile()["release"], env)
    assert release.returncode == 0, release.stderr + release.stdout
    stack = start_stack(["start", "-f", "Procfile", "-e", str(empty_env_file), "web"], env)
    wait_for(lambda: _answers(stack.port), 30, what="/healthz")

    status, _, page = raw_request(stack.port, "GET", "/home")
    assert status == 200, page[:300]
    url = re.search(rb'href="(/static/css/site\.[0-9a-f]{12}\.css)"', page).group(1).decode()

    status, headers, body = raw_request(stack.port, "GET", url, {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    assert headers["Cache-Control"] == YEAR_CACHE and headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in headers["Vary"]
    assert gzip.decompress(body) == (STATIC_DIR / "css" / "site.css").read_bytes()
    assert "default-src 'self'" in headers["Content-Security-Policy"] and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Request-Id"]

    if brotli_installed:  # a dev package: Brotli copies only where it is installed
        status, br_headers, _ = raw_request(stack.port, "GET", url, {"Accept-Encoding": "gzip, br"})
        assert status == 200 and br_headers["Content-Encoding"] == "br"

    status, head_headers, body = raw_request(stack.port, "HEAD", url, {"Accept-Encoding": "gzip"})
    assert status == 200 and body == b"" and head_headers["Content-Length"] == headers["Content-Length"]

    status, headers, _ = raw_request(stack.port, "GET", "/static/css/site.css")
    assert status == 200 and headers["Cache-Control"] == "max-age=60, public"

    for path in ("/static/../blasto/app.py", "/static/%2e%2e/blasto/app.py", "/static/css/site.000000000000.css"):
        status, headers, body = raw_request(stack.port, "GET", path)
        assert status in (400, 404) and b"Traceback" not in body and b"create_app" not in body, path
    stack.stop(timeout=10)
    assert "Traceback" not in stack.output() and "status=500" not in stack.output()


def _answers(port: int) -> bool:
    try:
        return raw_request(port, "GET", "/healthz")[0] == 200
    except OSError:
        return False
