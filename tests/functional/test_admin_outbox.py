"""Admins see failed e-mails with their errors and send them again; no one else sees the page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import OutboxMessage, User
from blasto.models.outbox import FAILED, PENDING, SENT
from tests.support.factories import make_user


def _owe(app, key: str, state: str, error: str | None = None) -> int:
    with app.app_context():
        row = OutboxMessage(
            key=key, kind="welcome", state=state, recipient="someone@example.com", attempts=3, last_error=error
        )
        db.session.add(row)
        db.session.commit()
        return row.id


def _state(app, row_id: int) -> tuple[str, int]:
    with app.app_context():
        row = db.session.get(OutboxMessage, row_id)
        return row.state, row.attempts


def test_the_admin_sees_failed_rows_with_their_errors_and_sends_one_again(shop_app, admin):
    failed = _owe(shop_app, "welcome:101", FAILED, "SMTP 550 5.1.1 No such user here")
    sent = _owe(shop_app, "welcome:102", SENT)
    page = admin.get("/admin/outbox")
    assert page.status == 200
    assert "welcome:101" in page.text and "No such user here" in page.text and "welcome:102" not in page.text
    assert "Failed (1)" in page.text and "Sent (1)" in page.text

    page = admin.submit(page, f"/admin/outbox/{failed}/retry")
    assert "Sending 1 e-mail again." in page.text
    assert _state(shop_app, failed) == (PENDING, 0)
    assert _state(shop_app, sent) == (SENT, 3)


def test_retrying_all_failed_leaves_sent_rows_alone(shop_app, admin):
    rows = [_owe(shop_app, f"welcome:{n}", FAILED, "451") for n in (1, 2)]
    sent = _owe(shop_app, "welcome:3", SENT)
    page = admin.submit(admin.get("/admin/outbox"), "/admin/outbox/retry-failed")
    assert "Sending 2 e-mails again." in page.text
    assert [_state(shop_app, row)[0] for row in rows] == [PENDING, PENDING]
    assert _state(shop_app, sent)[0] == SENT


def test_a_retry_without_its_csrf_token_changes_nothing(shop_app, admin):
    failed = _owe(shop_app, "welcome:7", FAILED, "451")
    response = admin.client.post(f"/admin/outbox/{failed}/retry")
    assert response.status_code == 400
    assert _state(shop_app, failed)[0] == FAILED


def test_shoppers_get_a_404_and_visitors_the_login_page(shop_app, browser, shopper):
    shopper_browser, _ = shopper
    assert shopper_browser.client.get("/admin/outbox").status_code == 404
    assert shopper_browser.client.post("/admin/outbox/retry-failed").status_code in (400, 404)
    assert "Outbox" not in shopper_browser.get("/home").text


def test_visitors_are_sent_to_log_in(shop_app):
    response = shop_app.test_client().get("/admin/outbox")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_create_admin_promotes_an_existing_account_and_creates_a_new_one(shop_app):
    make_user(shop_app, email="reader@example.com")
    runner = shop_app.test_cli_runner()
    result = runner.invoke(args=["create-admin", "Reader@Example.com"])
    assert result.exit_code == 0 and "reader@example.com is now an admin." in result.output
    assert "already an admin" in runner.invoke(args=["create-admin", "reader@example.com"]).output

    result = runner.invoke(
        args=["create-admin", "boss@example.com", "--name", "Boss"], input="long enough pw\nlong enough pw\n"
    )
    assert result.exit_code == 0 and "Created boss@example.com as an admin." in result.output
    with shop_app.app_context():
        admins = set(db.session.scalars(select(User.email).where(User.is_admin)))
        welcome = db.session.scalar(select(OutboxMessage.key).where(OutboxMessage.recipient == "boss@example.com"))
    assert admins == {"reader@example.com", "boss@example.com"}
    assert welcome and welcome.startswith("welcome:")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["create-admin", "not-an-address"], "", "Invalid value for EMAIL"),
        (["create-admin", "short@example.com"], "short\nshort\n", "Use between 10 and 128 characters."),
    ],
)
def test_create_admin_refuses_bad_input_clearly(shop_app, args, stdin, message):
    result = shop_app.test_cli_runner().invoke(args=args, input=stdin)
    assert result.exit_code != 0 and message in result.output
    with shop_app.app_context():
        assert db.session.scalar(select(User.id).where(User.is_admin)) is None
