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

from blasto.web.https import HSTS

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "object-src 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",  # frame-ancestors' predecessor, for older browsers
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _items(headers: dict[str, str]) -> tuple[tuple[str, str, str], ...]:
    return tuple((name, name.lower(), value) for name, value in headers.items())


_ITEMS = _items(SECURITY_HEADERS)
_ITEMS_HTTPS = _items({**SECURITY_HEADERS, "Strict-Transport-Security": HSTS})


class SecurityHeadersMiddleware:
    """Adds the headers a response lacks; with `hsts`, HSTS too on HTTPS (the scheme ProxyFix found)."""

    def __init__(self, wsgi_app, hsts: bool):
        self.wsgi_app = wsgi_app
        self.hsts = hsts

    def __call__(self, environ, start_response):
        def start_with_headers(status, headers, exc_info=None):
            items = _ITEMS_HTTPS if self.hsts and environ.get("wsgi.url_scheme") == "https" else _ITEMS
            present = {name.lower() for name, _ in headers}
            headers.extend((name, value) for name, lower, value in items if lower not in present)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start_with_headers)
