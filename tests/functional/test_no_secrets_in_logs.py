"""No log line carries a secret (password, token, key, credential) or personal data beyond ids.

The shop is driven through everything that handles such things: sign-up and
log-in (page and API, failed attempts included), tokens made, used, revoked
and sent in a query string, checkout on both doors, receipts delivered over
SMTP, refused, and failing to log in to the server, the test mode's
log-instead-of-send, a database error carrying an address as a bound
parameter (a 500 and a 503), and a broker URL with a password. Everything
logged meanwhile, at DEBUG, is written by the app's own logfmt formatter (what
stdout gets on a dyno) and searched for every secret and personal value used.
gunicorn's access log is checked on a real gunicorn.
"""

from __future__ import annotations

import io
import logging
import secrets
import signal
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from blasto.core.config import celery_config, database_uri, engine_options, load_config
from blasto.core.extensions import db
from blasto.core.logs import LogfmtFormatter
from blasto.core.mail_settings import HOLD, LOG, SMTP, MailSettings, SmtpSettings
from blasto.models import OutboxMessage
from blasto.outbox.delivery import deliver
from tests.support.api_client import basic, bearer
from tests.support.factories import SHIPPING_ADDRESS, make_book
from tests.support.form_browser import Browser
from tests.support.processes import BIN, ROOT, free_port, http_get, process_env, wait_for
from tests.support.smtp_sink import SmtpSink

TAG = secrets.token_hex(4)
SECRET_KEY = f"Sk-{secrets.token_hex(24)}"
DB_PASSWORD = f"DbPw{secrets.token_hex(8)}"
SMTP_PASSWORD = f"SmtpPw{secrets.token_hex(8)}"
REDIS_PASSWORD = f"RedisPw{secrets.token_hex(8)}"
PAGE = {"name": f"Ada Lovelace{TAG}", "email": f"ada.lovelace{TAG}@example.com", "password": f"Orchard-Lantern-{TAG}"}
API = {
    "name": f"Charles Babbage{TAG}",
    "email": f"charles.babbage{TAG}@example.org",
    "password": f"Quartz-Meadow-{TAG}",
}
WRONG_PASSWORD = f"Wrong-Guess-{TAG}"
UNKNOWN_EMAIL = f"grace.hopper{TAG}@example.net"
SINK_LOGGER = "mail.log"  # aiosmtpd, the test's own SMTP server: it is not the app


def _sink_free(record: logging.LogRecord) -> bool:
    return not record.name.startswith(SINK_LOGGER)


@pytest.fixture
def log_output():
    """Everything logged from now on, at DEBUG, as the app's stdout handler writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LogfmtFormatter())
    handler.addFilter(_sink_free)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def sink():
    with SmtpSink() as running:
        yield running


@pytest.fixture
def shop(app_factory, migrated_postgres, sink):
    """The app on Postgres, its URL carrying a password (the local server trusts; the URL still holds it)."""
    uri = database_uri(
        make_url(migrated_postgres).set(password=DB_PASSWORD).render_as_string(hide_password=False), None
    )
    app = app_factory(
        SQLALCHEMY_DATABASE_URI=uri,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(uri, 5),
        SECRET_KEY=SECRET_KEY,
        MAIL=_smtp(sink),
    )

    @app.get("/test-only/failing-query")
    def failing_query():  # a bug: a query on a table that does not exist, with an address bound
        db.session.execute(text("SELECT * FROM no_such_table WHERE email = :email"), {"email": PAGE["email"]})

    @app.get("/test-only/cancelled-query")
    def cancelled_query():  # Postgres gives up on a query (an outage, for the app): a 503
        db.session.execute(text("SET LOCAL statement_timeout = 1"))
        db.session.execute(text("SELECT pg_sleep(1), :email"), {"email": PAGE["email"]})

    return app


def _smtp(sink: SmtpSink, **credentials) -> MailSettings:
    return MailSettings(
        mode=SMTP,
        sender="Blasto <shop@blasto.example>",
        smtp=SmtpSettings(host="127.0.0.1", port=sink.port, timeout=2, **credentials),
    )


def _outbox_id(app, kind: str, email: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.kind == kind, OutboxMessage.recipient == email)
        )


def _deliver(app, outbox_id: int, mail: MailSettings) -> str:
    app.config["MAIL"] = mail
    with app.app_context():
        return deliver(outbox_id).state


def test_nothing_secret_or_personal_reaches_the_log(shop, sink, log_output):
    book = make_book(shop, "Emma", stock=10)
    browser = Browser(shop.test_client())
    api = shop.test_client()
    seen: set[str] = set()  # secrets made along the way: tokens, cookies

    # Sign up on the page, log out, fail twice, log in, check out.
    page = browser.submit(browser.get("/signup"), "/signup", PAGE)
    assert PAGE["name"] in page.text
    seen |= {browser.session_cookie(), page.form("/logout").value("csrf_token")}
    browser.submit(page, "/logout")
    for email, password in ((PAGE["email"], WRONG_PASSWORD), (UNKNOWN_EMAIL, PAGE["password"])):
        assert browser.submit(browser.get("/login"), "/login", {"email": email, "password": password}).status == 400
    page = browser.submit(
        browser.get("/login"), "/login", {"email": PAGE["email"], "password": PAGE["password"], "remember": "y"}
    )
    assert page.has_form("/logout")
    seen |= {browser.session_cookie(), browser.client.get_cookie("remember_token").value}
    browser.submit(browser.get(f"/books/{book}"), "/cart/add", {"quantity": "1"})
    page = browser.submit(browser.get("/checkout"), "/checkout")
    assert page.response.request.path.startswith("/purchases/")

    # The API: sign up, fail twice, a token made, used (also in a query string), revoked, refused.
    assert api.post("/api/v1/users", json=API).status_code == 201
    assert (
        api.post(
            "/api/v1/users", data=f'{{"password": "{API["password"]}", broken', content_type="application/json"
        ).status_code
        == 400
    )
    for email, password in ((API["email"], WRONG_PASSWORD), (UNKNOWN_EMAIL, API["password"])):
        assert api.post("/api/v1/tokens", headers=basic(email, password)).status_code == 401
    token = api.post("/api/v1/tokens", headers=basic(API["email"], API["password"])).get_json()["token"]
    seen |= {token, basic(API["email"], API["password"])["Authorization"].split()[1]}
    assert api.get("/api/v1/users/me", headers=bearer(token)).get_json()["email"] == API["email"]
    assert api.get(f"/api/v1/users/me?access_token={token}").status_code == 401
    assert (
        api.post(
            "/api/v1/purchases",
            json={"items": [{"product_id": book, "quantity": 1}], "shipping_address": SHIPPING_ADDRESS},
            headers=bearer(token),
        ).status_code
        == 201
    )
    assert api.delete("/api/v1/tokens", headers=bearer(token)).status_code == 204
    assert api.get("/api/v1/users/me", headers=bearer(token)).status_code == 401

    # Errors: a bug (500) and a database that gives up (503), each with an address as a bound parameter.
    assert api.get("/test-only/failing-query").status_code == 500
    assert api.get("/test-only/cancelled-query").status_code == 503

    # The worker's deliveries: sent, logged-instead (test mode), server login refused, recipient refused.
    assert _deliver(shop, _outbox_id(shop, "welcome", PAGE["email"]), _smtp(sink)) == "sent"
    assert sink.for_recipient(PAGE["email"]), "the welcome really went out"
    test_mode = load_config({"BLASTO_ENV": "test"}, instance_path=shop.instance_path)["MAIL"]
    assert (test_mode.mode, test_mode.log_body) == (LOG, False)
    assert _deliver(shop, _outbox_id(shop, "welcome", API["email"]), test_mode) == "sent"
    assert (
        _deliver(
            shop,
            _outbox_id(shop, "order_placed", PAGE["email"]),
            _smtp(sink, username="blasto", password=SMTP_PASSWORD),
        )
        == "retry"
    )
    sink.refuse_recipients = {API["email"]}
    receipt = _outbox_id(shop, "order_placed", API["email"])
    assert _deliver(shop, receipt, _smtp(sink)) == "failed"
    with shop.app_context():
        assert API["email"] in db.session.get(OutboxMessage, receipt).last_error, (
            "the row keeps it whole, for the admin"
        )

    logged = log_output.getvalue()
    forbidden = {
        "secret key": SECRET_KEY,
        "database password": DB_PASSWORD,
        "SMTP password": SMTP_PASSWORD,
        **{f"page {key}": value for key, value in PAGE.items()},
        **{f"API {key}": value for key, value in API.items()},
        "page local part": PAGE["email"].split("@")[0],
        "API local part": API["email"].split("@")[0],
        "wrong password": WRONG_PASSWORD,
        "unknown e-mail": UNKNOWN_EMAIL,
        **{f"made secret {n}": value for n, value in enumerate(sorted(filter(None, seen)))},
    }
    leaks = sorted(name for name, value in forbidden.items() if value.lower() in logged.lower())
    assert leaks == [], f"in the log: {leaks}\n{logged[-6000:]}"
    for event in (
        "http error",
        "unhandled exception",
        "service unavailable",
        "e-mail sent",
        "will retry",
        "e-mail failed",
        "its text is logged in development only",
        "SMTPNotSupportedError",
        "recipient refused: [email]",
    ):
        assert event in logged, f"{event!r} was not logged: the test did not drive what it says"


def test_a_broker_url_password_never_reaches_the_log(app_factory, tmp_path, log_output):
    closed = free_port()
    app = app_factory(CELERY=celery_config(f"redis://:{REDIS_PASSWORD}@127.0.0.1:{closed}/0", tmp_path, {}))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503 and "broker" in response.get_json()["failed"]
    logged = log_output.getvalue()
    assert "broker check failed" in logged
    assert REDIS_PASSWORD not in logged and REDIS_PASSWORD not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("environment", "mode", "log_body"), [("development", LOG, True), ("test", LOG, False), ("production", HOLD, False)]
)
def test_only_development_logs_a_message_text(tmp_path, environment, mode, log_body):
    env = {"BLASTO_ENV": environment, "SECRET_KEY": secrets.token_hex(32)}
    mail = load_config(env, instance_path=tmp_path)["MAIL"]
    assert (mail.mode, mail.log_body) == (mode, log_body)


CLIENT_ADDRESS = "198.51.100.77"  # a shopper's address is personal data: the router's log has it, ours never


@pytest.mark.processes
def test_gunicorns_access_log_has_no_query_string_credentials_cookies_or_addresses(tmp_path):
    port = free_port()
    env = process_env(
        BLASTO_ENV="test",
        PORT=str(port),
        WEB_CONCURRENCY="1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'blasto.sqlite3'}",
    )
    query, authorization, cookie, referer = (
        f"{name}{secrets.token_hex(8)}" for name in ("Query", "Bearer", "Cookie", "Referer")
    )
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "blasto:APP"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def answered():
            try:
                return (
                    http_get(
                        f"http://127.0.0.1:{port}/healthz?access_token={query}",
                        headers={
                            "Authorization": f"Bearer {authorization}",
                            "Cookie": f"session={cookie}",
                            "Referer": f"https://example.com/?t={referer}",
                            "X-Forwarded-For": CLIENT_ADDRESS,
                        },
                        timeout=2,
                    )[0]
                    == 200
                )
            except OSError:
                assert server.poll() is None, Path(log_path).read_text()
                return False

        wait_for(answered, 45, interval=0.1, what="gunicorn to answer /healthz")
        line = wait_for(
            lambda: next(
                (line for line in log_path.read_text().splitlines() if "logger=gunicorn.access" in line), None
            ),
            10,
            what="the access log line",
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    assert 'path="/healthz"' in line and "status=200" in line
    output = log_path.read_text()
    for value in (query, authorization, cookie, referer, CLIENT_ADDRESS):
        assert value not in output, f"{value[:6]}... is in gunicorn's log:\n{output}"
    assert "127.0.0.1 " not in line.replace(f"127.0.0.1:{port}", ""), line  # nor the socket's peer
