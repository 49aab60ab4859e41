"""Security headers on every response, added as the response starts.

The policy matches how the site is built: every script and stylesheet is a
file under /static (no inline <script>, style="" or on*= handlers, which
tests/unit/test_security_headers.py checks), images come from the app or are
data: URIs, forms post to the app, and no page is meant to be framed. With
Stripe on, and only then, Stripe.js may load, frame its card fields and call
Stripe's API (the origins Stripe's CSP guide lists). A view that needs a
different policy sets its own header, which is kept.

A WSGI middleware rather than an after_request hook so that every response
gets them, redirects and the last-resort error page included.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from blasto.core.payment_settings import API_BASE, StripeSettings
from blasto.web.https import HSTS

STRIPE_HOOKS_ORIGIN = "https://hooks.stripe.com"  # 3-D Secure pages Stripe.js frames


def content_security_policy(stripe: StripeSettings | None = None) -> str:
    """The site's policy; with `stripe`, its script, frame and API origins are admitted too."""
    script, frame, connect = ["'self'"], [], []
    if stripe is not None:
        script.append(stripe.js_origin)
        frame.append(stripe.js_origin)
        if stripe.api_base == API_BASE:
            frame.append(STRIPE_HOOKS_ORIGIN)
        api = urlsplit(stripe.api_base)
        connect = ["'self'", f"{api.scheme}://{api.netloc}"]
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {' '.join(script)}",
            "style-src 'self'",
            "img-src 'self' data:",
            *([f"frame-src {' '.join(frame)}"] if frame else []),
            *([f"connect-src {' '.join(connect)}"] if connect else []),
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "object-src 'none'",
        )
    )


CONTENT_SECURITY_POLICY = content_security_policy()


def security_headers(stripe: StripeSettings | None = None) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(stripe),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "X-Frame-Options": "DENY",  # frame-ancestors' predecessor, for older browsers
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


SECURITY_HEADERS = security_headers()


def _items(headers: dict[str, str]) -> tuple[tuple[str, str, str], ...]:
    return tuple((name, name.lower(), value) for name, value in headers.items())


class SecurityHeadersMiddleware:
    """Adds the headers a response lacks; with `hsts`, HSTS too on HTTPS (the scheme ProxyFix found)."""

    def __init__(self, wsgi_app, hsts: bool, stripe: StripeSettings | None = None):
        self.wsgi_app = wsgi_app
        self.hsts = hsts
        headers = security_headers(stripe)
        self.items = _items(headers)
        self.items_https = _items({**headers, "Strict-Transport-Security": HSTS})

    def __call__(self, environ, start_response):
        def start_with_headers(status, headers, exc_info=None):
            items = self.items_https if self.hsts and environ.get("wsgi.url_scheme") == "https" else self.items
            present = {name.lower() for name, _ in headers}
            headers.extend((name, value) for name, lower, value in items if lower not in present)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start_with_headers)
