"""The site and the API side by side, and the probes that need no I/O."""

import re


def test_site_home_is_html_from_the_layout(client):
    for path in ("/", "/home"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.mimetype == "text/html"
        page = response.get_data(as_text=True)
        assert "Welcome to Blasto" in page
        assert re.search(r"/static/css/site\.[0-9a-f]{12}\.css", page)  # from layout.html, hashed


def test_stylesheet_is_served(client):
    response = client.get("/static/css/site.css")
    assert response.status_code == 200 and response.mimetype == "text/css"


def test_api_home_is_json_with_name_version_and_links(client):
    response = client.get("/api/v1/home")
    assert response.status_code == 200 and response.is_json
    body = response.get_json()
    assert body["name"] == "Blasto" and body["version"] == "v1"
    assert body["links"]["self"] == "/api/v1/home"
    assert body["links"]["site"] == "/home"
    expected = {"ready": (200, 503), "products": (401,)}  # no worker here; products need a token
    for name, link in body["links"].items():
        assert client.get(link).status_code in expected.get(name, (200,)), name


def test_both_home_routes_coexist_under_their_blueprints(app, client):
    endpoints = {rule.rule: rule.endpoint for rule in app.url_map.iter_rules() if rule.rule.endswith("/home")}
    assert endpoints == {"/home": "site.home", "/api/v1/home": "api.home"}
    assert client.get("/home").mimetype == "text/html"
    assert client.get("/api/v1/home").mimetype == "application/json"


def test_healthz_answers_without_io(app_factory):
    app = app_factory(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_heroku_router_headers_give_the_client_address_and_scheme(app_factory):
    app = app_factory()

    @app.get("/_test/origin")
    def origin():
        from flask import request

        return {"scheme": request.scheme, "remote_addr": request.remote_addr, "url": request.url_root}

    response = app.test_client().get(
        "/_test/origin",
        headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443"},
    )
    assert response.get_json() == {"scheme": "https", "remote_addr": "203.0.113.9", "url": "https://localhost/"}


def test_site_pages_have_their_endpoints_and_urls(app):
    with app.test_request_context():
        from flask import url_for

        expected = {
            "site.home": "/home",
            "site.catalog": "/books",
            "site.signup": "/signup",
            "site.login": "/login",
            "site.logout": "/logout",
            "site.cart": "/cart",
            "site.cart_add": "/cart/add",
            "site.cart_update": "/cart/update",
            "site.cart_remove": "/cart/remove",
            "site.checkout": "/checkout",
            "site.purchases": "/purchases",
            "site.account": "/account",
            "site.account_name": "/account/name",
            "site.account_password": "/account/password",
            "site.end_other_sessions": "/account/sessions/end-others",
            "site.account_delete": "/account/delete",
            "site.account_email": "/account/email",
            "site.confirm_email": "/account/email/confirm",
        }
        assert {endpoint: url_for(endpoint) for endpoint in expected} == expected
        assert url_for("site.book", product_id=7) == "/books/7"
        assert url_for("site.purchase", purchase_id=7) == "/purchases/7"
        assert url_for("site.cancel_purchase", purchase_id=7) == "/purchases/7/cancel"
        assert url_for("site.pay", purchase_id=7) == "/purchases/7/pay"
        assert url_for("site.check_payment", purchase_id=7) == "/purchases/7/pay/check"
        assert url_for("site.end_session", login_id=7) == "/account/sessions/7/end"
        assert url_for("site.delete_address", address_id=7) == "/account/addresses/7/delete"
        assert url_for("site.ask_restock_wish", product_id=7) == "/books/7/restock-wish"
        assert url_for("site.cancel_restock_wish", product_id=7) == "/books/7/restock-wish/cancel"
    posts_only = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("site.") and "GET" not in rule.methods
    }
    assert posts_only == {
        "site.logout",
        "site.cart_add",
        "site.cart_update",
        "site.cart_remove",
        "site.cancel_purchase",
        "site.pay",
        "site.check_payment",
        "site.account_name",
        "site.account_password",
        "site.end_session",
        "site.end_other_sessions",
        "site.delete_address",
        "site.account_email",
        "site.ask_restock_wish",
        "site.cancel_restock_wish",
    }
