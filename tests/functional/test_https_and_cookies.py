"""Behind Heroku's router: the client's address and scheme, HTTPS redirects, HSTS and cookie flags.

The production app is built from load_config's real production settings
(only the database and broker are this test's own), and every request goes
through ProxyFix with the headers the router would add.
"""

from __future__ import annotations

import pytest
from flask import request

from blasto.core.config import load_config
from blasto.web.https import HSTS
from tests.support.factories import make_user
from tests.support.form_browser import Browser, log_in

GOOD_KEY = "q3V8n0cXw1Lk5T7pR2mZ9bH4sJ6dF0gY"
HTTPS = {"X-Forwarded-Proto": "https", "X-Forwarded-Port": "443", "X-Forwarded-For": "203.0.113.9"}
HTTP = {"X-Forwarded-Proto": "http", "X-Forwarded-Port": "80", "X-Forwarded-For": "203.0.113.9"}
SITE = "blasto.herokuapp.com"


def settings(tmp_path, blasto_env: str) -> dict:
    """load_config's settings for that environment, minus what the test fixture provides (database, broker)."""
    config = load_config({"BLASTO_ENV": blasto_env, "SECRET_KEY": GOOD_KEY}, instance_path=tmp_path)
    for own in ("SQLALCHEMY_DATABASE_URI", "SQLALCHEMY_ENGINE_OPTIONS", "CELERY"):
        config.pop(own)
    return config


@pytest.fixture
def production_app(migrated_app_factory, tmp_path):
    app = migrated_app_factory(**settings(tmp_path, "production"))
    assert app.config["BLASTO_ENV"] == "production" and app.config["SESSION_COOKIE_SECURE"]
    return app


@pytest.fixture
def development_app(migrated_app_factory, tmp_path):
    return migrated_app_factory(**settings(tmp_path, "development"))


def add_origin_route(app):
    @app.get("/_test/origin")
    def origin():
        return {
            "scheme": request.scheme,
            "remote_addr": request.remote_addr,
            "host": request.host,
            "url_root": request.url_root,
        }


# --- ProxyFix: exactly one trusted hop ---------------------------------------


def test_only_the_routers_hop_is_trusted_for_the_client_address(app_factory):
    app = app_factory()
    add_origin_route(app)
    client = app.test_client()
    # The client wrote its own X-Forwarded-For; the router appended the address it saw.
    spoofed = client.get("/_test/origin", headers={"X-Forwarded-For": "10.0.0.1, 198.51.100.7, 203.0.113.9"}).get_json()
    assert spoofed["remote_addr"] == "203.0.113.9"
    assert client.get("/_test/origin").get_json()["remote_addr"] == "127.0.0.1"  # no router: the socket's peer


def test_scheme_and_port_come_from_the_router_but_host_and_prefix_do_not(app_factory):
    app = app_factory()
    add_origin_route(app)
    body = (
        app.test_client()
        .get(
            "/_test/origin",
            base_url=f"http://{SITE}",
            headers={**HTTPS, "X-Forwarded-Host": "evil.example", "X-Forwarded-Prefix": "/evil"},
        )
        .get_json()
    )
    assert body == {"scheme": "https", "remote_addr": "203.0.113.9", "host": SITE, "url_root": f"https://{SITE}/"}
    http = (
        app.test_client()
        .get("/_test/origin", base_url=f"http://{SITE}", headers={**HTTP, "X-Forwarded-Port": "8080"})
        .get_json()
    )
    assert http["scheme"] == "http" and http["host"] == f"{SITE}:8080"


# --- HTTPS in production -----------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_plain_http_reads_are_moved_permanently_to_https(production_app, method):
    response = production_app.test_client().open(
        "/books?q=tolstoy&page=2", method=method, base_url=f"http://{SITE}", headers=HTTP
    )
    assert response.status_code == 301
    assert response.headers["Location"] == f"https://{SITE}/books?q=tolstoy&page=2"
    assert "Strict-Transport-Security" not in response.headers  # HSTS over plain HTTP means nothing


@pytest.mark.parametrize("path", ["/login", "/api/v1/tokens", "/api/v1/purchases"])
def test_plain_http_writes_are_redirected_with_308_before_any_check(production_app, path):
    # No CSRF token, no credentials: the redirect comes first, keeping the method and body.
    response = production_app.test_client().post(
        path, base_url=f"http://{SITE}", headers=HTTP, data={"email": "a@example.com"}
    )
    assert response.status_code == 308
    assert response.headers["Location"] == f"https://{SITE}{path}"


def test_the_redirect_goes_to_the_default_https_port(production_app):
    response = production_app.test_client().get(
        "/cart", base_url=f"http://{SITE}:8080", headers={**HTTP, "X-Forwarded-Port": "8080"}
    )
    assert response.status_code == 301 and response.headers["Location"] == f"https://{SITE}/cart"


def test_health_probes_answer_over_plain_http(production_app):
    client = production_app.test_client()
    assert client.get("/healthz", headers=HTTP).status_code == 200
    ready = client.get("/readyz", headers=HTTP)
    assert ready.status_code in (200, 503) and ready.is_json  # not a redirect: the checks ran


def test_static_files_over_plain_http_are_redirected_too(production_app):
    hashed = production_app.extensions["static_assets"].url("css/site.css")
    for path in ("/static/css/site.css", hashed):
        response = production_app.test_client().get(path, base_url=f"http://{SITE}", headers=HTTP)
        assert response.status_code == 301 and response.headers["Location"] == f"https://{SITE}{path}"
        served = production_app.test_client().get(path, base_url=f"http://{SITE}", headers=HTTPS)
        assert served.status_code == 200 and served.mimetype == "text/css"


def test_https_responses_carry_hsts(production_app):
    client = production_app.test_client()
    hashed = production_app.extensions["static_assets"].url("css/site.css")
    for path in ("/home", "/api/v1/home", "/healthz", "/no/such/page", hashed):
        response = client.get(path, base_url=f"http://{SITE}", headers=HTTPS)
        assert response.status_code in (200, 404), path
        assert response.headers["Strict-Transport-Security"] == HSTS == "max-age=31536000; includeSubDomains"


def test_a_request_that_did_not_come_through_a_router_is_served_as_it_is(production_app):
    # gunicorn started by hand in production mode, or the e2e stacks: no TLS in front to send anyone to.
    response = production_app.test_client().get("/home", base_url="http://10.1.2.3:5000")
    assert response.status_code == 200 and "Strict-Transport-Security" not in response.headers


def test_development_neither_redirects_nor_sends_hsts(development_app):
    client = development_app.test_client()
    assert client.get("/home", headers=HTTP).status_code == 200
    assert "Strict-Transport-Security" not in client.get("/home", headers=HTTPS).headers


# --- Cookies -----------------------------------------------------------------


def set_cookies(response) -> dict[str, set[str]]:
    """{cookie name: its attributes, lower-cased ('secure', 'httponly', 'samesite=lax', 'path=/')}."""
    cookies = {}
    for header in response.headers.getlist("Set-Cookie"):
        name_value, *attributes = [part.strip() for part in header.split(";")]
        cookies[name_value.split("=", 1)[0]] = {attribute.lower() for attribute in attributes}
    return cookies


def https_browser(app) -> Browser:
    client = app.test_client()
    # Every request arrives through the router over HTTPS, from a page of the
    # site (Flask-WTF checks the Referer of HTTPS posts).
    for name, value in {**HTTPS, "Referer": f"https://{SITE}/login"}.items():
        client.environ_base[f"HTTP_{name.upper().replace('-', '_')}"] = value
    return Browser(client)


def test_production_login_sets_secure_httponly_lax_session_and_remember_cookies(production_app):
    make_user(production_app, email="reader@example.com", name="Rita Reader")
    browser = https_browser(production_app)
    form = browser.get("/login", base_url=f"http://{SITE}").form("/login")
    response = browser.client.post(
        "/login",
        base_url=f"http://{SITE}",
        data=form.data({"email": "reader@example.com", "password": "correct horse battery", "remember": "y"}),
    )
    assert response.status_code == 303
    cookies = set_cookies(response)
    assert set(cookies) == {"session", "remember_token"}
    for name, attributes in cookies.items():
        assert {"secure", "httponly", "samesite=lax"} <= attributes, name
    assert "Rita Reader" in browser.get("/home", base_url=f"http://{SITE}").text  # and the cookies log in


def test_development_cookies_are_httponly_and_lax_but_not_secure(development_app):
    make_user(development_app, email="reader@example.com")
    page = log_in(Browser(development_app.test_client()), "reader@example.com", remember=True)
    assert page.status == 200
    cookies = set_cookies(page.response.history[0])
    assert set(cookies) == {"session", "remember_token"}
    for name, attributes in cookies.items():
        assert {"httponly", "samesite=lax"} <= attributes and "secure" not in attributes, name
