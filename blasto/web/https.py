"""Production behind Heroku's router: plain HTTP is redirected to HTTPS, HTTPS gets HSTS.

The router ends TLS and says which scheme the client used in
X-Forwarded-Proto; ProxyFix (blasto.web.middleware, one trusted hop)
turns it into `request.scheme`. A request the router marks `http` is
redirected: 301 for GET and HEAD, 308 for the rest (a 308 keeps the method
and body, a 301 lets clients turn a POST into a GET). A request without the
header did not come through a router at all (gunicorn run by hand, the e2e
stacks): there is no HTTPS in front of it to send the client to, so it is
served as it is. The health probes are never redirected, so a plain-HTTP
uptime check keeps working.

The redirect runs before every other request hook (CSRF included), so a
form posted over HTTP is sent on to HTTPS instead of failing its check.
Outside production nothing here is installed: development has no TLS.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, redirect, request
from flask.typing import ResponseReturnValue

HSTS = "max-age=31536000; includeSubDomains"
EXEMPT_BLUEPRINTS = frozenset({"health"})
_PORT = re.compile(r":\d+$")  # "[::1]:5000" -> "[::1]"; "[::1]" has no port to strip


def https_url() -> str:
    """The request's URL on HTTPS, on the default port (the router serves HTTPS on 443)."""
    parts = urlsplit(request.url)
    return urlunsplit(("https", _PORT.sub("", request.host), parts.path, parts.query, ""))


def plain_http_via_router(environ) -> bool:
    """The router says the client used plain HTTP (and ProxyFix found no https)."""
    return environ.get("wsgi.url_scheme") not in ("https", "wss") and bool(environ.get("HTTP_X_FORWARDED_PROTO"))


def redirect_plain_http() -> ResponseReturnValue | None:
    if not plain_http_via_router(request.environ):
        return None
    if request.blueprint in EXEMPT_BLUEPRINTS:
        return None
    return redirect(https_url(), code=301 if request.method in ("GET", "HEAD") else 308)


def redirects_plain_http(app: Flask) -> bool:
    """Production only: development has no TLS in front of it."""
    return app.config["BLASTO_ENV"] == "production"


def register_https(app: Flask) -> None:
    """The redirect; HSTS is added with the other headers (blasto.web.security_headers)."""
    if not redirects_plain_http(app):
        return
    app.before_request_funcs.setdefault(None, []).insert(0, redirect_plain_http)
