"""Security headers on every response, added as the response starts.

The policy matches how the site is built: every script and stylesheet is a
file under /static (no inline <script>, style="" or on*= handlers, which
tests/unit/test_security_headers.py checks), images come from the app or are
data: URIs, forms post to the app, and no page is meant to be framed.
A view that needs a different policy sets its own header, which is kept.

A WSGI middleware on the raw header list rather than an after_request hook
with `Headers.setdefault`: it is on every request's path, and six setdefaults
cost about as much as the rest of a bare request (docs/BENCHMARKS.md). It also
covers every response, redirects and errors included.
"""
from __future__ import annotations

from flask import Flask

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "object-src 'none'",
))

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",  # frame-ancestors' predecessor, for older browsers
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


_ITEMS = tuple((name, name.lower(), value) for name, value in SECURITY_HEADERS.items())


class SecurityHeadersMiddleware:
    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        def start_with_headers(status, headers, exc_info=None):
            present = {name.lower() for name, _ in headers}
            headers.extend((name, value) for name, lower, value in _ITEMS if lower not in present)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start_with_headers)


def register_security_headers(app: Flask) -> None:
    app.wsgi_app = SecurityHeadersMiddleware(app.wsgi_app)  # type: ignore[method-assign]
