"""The WSGI stack around Flask, in the order build_middleware documents, outermost first."""

from werkzeug.middleware.proxy_fix import ProxyFix
from whitenoise import WhiteNoise

from blasto.web.last_resort import LastResortMiddleware
from blasto.web.request_id import RequestIdMiddleware
from blasto.web.security_headers import SecurityHeadersMiddleware
from blasto.web.static_assets import StaticFiles


def layers(app) -> list[type]:
    found, wsgi = [], app.wsgi_app
    while getattr(wsgi, "__self__", None) is not app:  # Flask's own wsgi_app, a bound method
        found.append(type(wsgi))
        if isinstance(wsgi, ProxyFix):
            wsgi = wsgi.app
        elif isinstance(wsgi, WhiteNoise):
            wsgi = wsgi.application
        else:
            wsgi = wsgi.wsgi_app
    return found


def test_the_stack_is_request_id_headers_last_resort_proxy_static_files_then_flask(app):
    assert layers(app) == [RequestIdMiddleware, SecurityHeadersMiddleware, LastResortMiddleware, ProxyFix, StaticFiles]


def test_a_response_from_any_layer_carries_the_request_id_and_the_headers(app):
    response = app.test_client().get("/healthz", headers={"X-Request-Id": "order-of-layers"})
    assert response.headers["X-Request-Id"] == "order-of-layers"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
