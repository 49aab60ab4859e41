"""The WSGI stack around Flask, built in one place so its order can be read and changed here."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from blasto.web.last_resort import LastResortMiddleware
from blasto.web.request_id import RequestIdMiddleware
from blasto.web.security_headers import SecurityHeadersMiddleware
from blasto.web.static_assets import static_files_app

# A WSGI application: (environ, start_response) -> body.
WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


def build_middleware(app: Flask) -> None:
    """Wrap Flask in the layers a request meets, outermost first; every one is on every request's path.

    1. RequestIdMiddleware: the request id in the logging context and the X-Request-Id header,
       so every layer below logs it and every response carries it, the last resort's included.
    2. SecurityHeadersMiddleware: the security headers, and HSTS on HTTPS in production, on every
       response; it reads the scheme when the response starts, after ProxyFix has set it.
    3. LastResortMiddleware: the app's own 503 or 500 for an exception that escapes Flask (instead
       of gunicorn's bare page), inside the two above so that answer has the id and the headers.
    4. ProxyFix: one trusted hop, Heroku's router, for the client address, scheme and port
       (X-Forwarded-For's last entry is the client; Host and Prefix are never trusted).
    5. WhiteNoise: the files under /static (blasto.web.static_assets), answered before Flask is
       entered, inside the layers above so they carry the id and the security headers, and HSTS
       on HTTPS; any other path, an unknown file's included, goes on to Flask (its 404 page).
    6. Flask.
    """
    wsgi: WsgiApp = static_files_app(app, app.wsgi_app)
    wsgi = ProxyFix(wsgi, x_for=1, x_proto=1, x_port=1)
    wsgi = LastResortMiddleware(app, wsgi)
    wsgi = SecurityHeadersMiddleware(
        wsgi, hsts=app.config["BLASTO_ENV"] == "production", stripe=app.config["PAYMENTS"].stripe
    )
    wsgi = RequestIdMiddleware(wsgi)
    app.wsgi_app = wsgi  # type: ignore[method-assign]
