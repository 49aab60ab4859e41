"""A Postgres backend that dies mid-request, in-process: the app's own answer, never an exception for the server.

The request's own backend is terminated from another connection
(`pg_terminate_backend`, as a failover or maintenance does) at a chosen point:
after the view's last query, so only the end-of-request ROLLBACK meets the
dead connection, or before a query the view still has to make. Test-only
routes pick the point; the pages and the API must each keep their shape.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import requests
from flask import jsonify
from sqlalchemy import select, text
from werkzeug.serving import make_server

from blasto.core.config import database_uri, engine_options
from blasto.core.extensions import db
from blasto.models import Product
from blasto.web.errors import DATABASE_MESSAGE, RETRY_AFTER_SECONDS
from blasto.web.security_headers import SECURITY_HEADERS
from tests.functional.test_outage_pages import assert_outage_json, assert_outage_page
from tests.support.factories import make_book, make_user
from tests.support.form_browser import Browser, log_in

TERMINATE_WAIT_MS = 10_000  # pg_terminate_backend(pid, timeout) returns once the backend has exited


@pytest.fixture
def killer(postgres_database):
    """A connection of the test's own that terminates a backend and waits until it has gone."""
    with psycopg.connect(database_uri(postgres_database, None).replace("+psycopg", ""), autocommit=True) as connection:

        def kill(pid: int) -> None:
            assert connection.execute("SELECT pg_terminate_backend(%s, %s)", (pid, TERMINATE_WAIT_MS)).fetchone()[0]

        yield kill


@pytest.fixture
def dying_app(pg_app, killer):
    """pg_app with routes whose backend is terminated after their last query, or before one."""
    book = make_book(pg_app, "Persuasion")

    def read_then_lose_backend():
        title = db.session.scalar(select(Product.title).where(Product.id == book))  # the transaction stays open
        killer(db.session.scalar(text("SELECT pg_backend_pid()")))
        return title

    def page_after_last_query():
        return f"<p>{read_then_lose_backend()}</p>"

    def json_after_last_query():
        return jsonify(title=read_then_lose_backend())

    def query_after_losing_backend():
        read_then_lose_backend()
        return db.session.scalar(select(Product.title))

    pg_app.add_url_rule("/_test/last-query", view_func=page_after_last_query)
    pg_app.add_url_rule("/api/v1/_test/last-query", view_func=json_after_last_query, endpoint="api_last_query")
    pg_app.add_url_rule("/_test/query-after", view_func=query_after_losing_backend)
    pg_app.add_url_rule("/api/v1/_test/query-after", view_func=query_after_losing_backend, endpoint="api_query_after")
    return pg_app


def assert_security_headers(response) -> None:
    assert response.headers["X-Request-Id"]
    missing = [name for name in SECURITY_HEADERS if name not in response.headers]
    assert not missing, f"missing {missing}"


def pool_checked_out(app) -> int:
    with app.app_context():
        return db.engine.pool.checkedout()


def test_a_backend_lost_after_the_last_query_keeps_the_built_response(dying_app, caplog):
    client = dying_app.test_client()
    with caplog.at_level(logging.WARNING, logger="blasto.outages"):
        page = client.get("/_test/last-query")
        api = client.get("/api/v1/_test/last-query")

    assert page.status_code == 200 and page.get_data(as_text=True) == "<p>Persuasion</p>"
    assert api.status_code == 200 and api.get_json() == {"title": "Persuasion"}
    for response in (page, api):
        assert_security_headers(response)
    lines = [record for record in caplog.records if record.name == "blasto.outages"]
    assert len(lines) == 2, [record.getMessage() for record in lines]
    assert {line.request_id for line in lines} == {page.headers["X-Request-Id"], api.headers["X-Request-Id"]}
    assert all(line.error.startswith("AdminShutdown: terminating connection") for line in lines), lines[0].error
    # The dead connection went back to the pool invalidated; the next request gets a fresh one.
    assert pool_checked_out(dying_app) == 0
    assert client.get("/api/v1/_test/last-query").status_code == 200


def test_a_backend_lost_before_a_query_is_the_outage_503_in_each_shape(dying_app):
    client = dying_app.test_client()
    page = client.get("/_test/query-after")
    api = client.get("/api/v1/_test/query-after")

    assert_outage_page(page)
    assert_outage_json(api)
    for response in (page, api):
        assert_security_headers(response)
    assert pool_checked_out(dying_app) == 0


@pytest.fixture
def outage_app(app_factory, migrated_postgres, proxy):
    parts = urlsplit(migrated_postgres)
    uri = database_uri(urlunsplit((parts.scheme, f"{parts.username}@127.0.0.1:{proxy.port}", parts.path, "", "")), None)
    return app_factory(SQLALCHEMY_DATABASE_URI=uri, SQLALCHEMY_ENGINE_OPTIONS=engine_options(uri, 5))


def test_an_error_page_that_needs_the_database_while_it_is_down_is_the_outage_page(outage_app, proxy):
    make_user(outage_app, email="shopper@example.com", name="Sam Shopper")
    shopper = Browser(outage_app.test_client())
    assert "Sam Shopper" in log_in(shopper, "shopper@example.com").text

    proxy.down()  # the layout of the 404 page asks who is logged in
    response = shopper.client.get("/no-such-page")
    assert_outage_page(response)
    assert_security_headers(response)


@pytest.fixture
def served(app_factory):
    """Serve an app over real HTTP (werkzeug's server, which follows PEP 3333 as gunicorn does); its base URL."""
    servers = []

    def serve(app) -> str:
        server = make_server("127.0.0.1", 0, app)
        threading.Thread(target=server.serve_forever, name="wsgi-server", daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (psycopg.OperationalError("server closed the connection"), 503),
        (RuntimeError("a bug"), 500),
    ],
)
def test_an_exception_that_escapes_flask_is_answered_in_the_apps_own_shape(app_factory, served, error, status, caplog):
    """Raised after the handlers (here by a teardown), it would be the server's bare 500; the app answers instead."""
    app = app_factory(TESTING=False)  # in tests Flask propagates exceptions, and so does this layer

    @app.teardown_appcontext
    def fail(exc):
        raise error

    base = served(app)
    with caplog.at_level(logging.ERROR):
        page = requests.get(f"{base}/healthz", timeout=10)
        api = requests.get(f"{base}/api/v1/no-such-thing", timeout=10)

    for response in (page, api):
        assert response.status_code == status
        assert_security_headers(response)
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers.get("Retry-After") == (str(RETRY_AFTER_SECONDS) if status == 503 else None)
    assert page.headers["Content-Type"].startswith("text/html") and page.headers["X-Request-Id"] in page.text
    body = api.json()
    assert body["request_id"] == api.headers["X-Request-Id"]
    if status == 503:
        assert body == {"error": "service_unavailable", "message": DATABASE_MESSAGE, "request_id": body["request_id"]}
        assert DATABASE_MESSAGE.replace("'", "&#39;") in page.text
    else:
        assert body["error"] == "internal_server_error" and "a bug" not in api.text + page.text
    logged = [record for record in caplog.records if getattr(record, "status", None) == status]
    assert len(logged) == 2
    assert {record.request_id for record in logged} == {page.headers["X-Request-Id"], api.headers["X-Request-Id"]}
