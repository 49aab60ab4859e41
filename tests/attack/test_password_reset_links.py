"""Reset links an attacker might try: reused, expired, forged, tampered with, or someone else's.

Every one gets the same clear page (or, in the API, the same 400), never a
500, and changes no password. Forged tokens are made with itsdangerous, as an
attacker would: a guessed key, another salt of this app, a payload swapped
under a real signature. On real Postgres.
"""

from __future__ import annotations

import base64
import json

import pytest

from blasto.shop.password_reset import DEAD_LINK, RESET_LINK_LIFETIME
from tests.support.api_client import assert_error
from tests.support.factories import PASSWORD, make_user
from tests.support.form_browser import Browser, log_in
from tests.support.password_resets import (
    RESET_PAGE,
    mail_to,
    mailed_reset_path,
    reset_path,
    signed_long_ago,
    signed_with,
    token_of,
)
from tests.support.smtp_sink import SmtpSink

NEW_PASSWORD = "a brand new passphrase"
VICTIM, ATTACKER = "victim@example.com", "attacker@example.com"


@pytest.fixture
def sink():
    with SmtpSink() as running:
        yield running


@pytest.fixture
def shop(pg_app, sink):
    mail_to(pg_app, sink)
    make_user(pg_app, email=VICTIM, name="Vic Victim")
    make_user(pg_app, email=ATTACKER, name="Eve Attacker")
    return pg_app


def link_for(app, sink, email: str) -> str:
    browser = Browser(app.test_client())
    browser.submit(browser.get("/password-reset"), "/password-reset", {"email": email})
    return mailed_reset_path(app, sink, email)


def assert_dead(app, path: str, api: bool = True) -> None:
    """The page says the link is dead and offers a new one, for GET and for a posted form, in the API too."""
    browser = Browser(app.test_client())
    page = browser.get(path)
    assert page.status == 410 and DEAD_LINK in page.text and 'href="/password-reset"' in page.html
    assert not page.has_form(RESET_PAGE) and "Traceback" not in page.html
    csrf = browser.get("/password-reset").form("/password-reset").value("csrf_token")
    form = {"csrf_token": csrf, "token": token_of(path), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    posted = browser.client.post(RESET_PAGE, data=form)
    assert posted.status_code == 410
    if api:  # (an empty token, or one with NUL, is refused by the API's schema first: a 422)
        confirm = {"token": token_of(path), "password": NEW_PASSWORD}
        answer = app.test_client().post("/api/v1/password-reset/confirm", json=confirm)
        assert assert_error(answer, 400, "bad_request")["message"] == DEAD_LINK


def assert_password_unchanged(app, email: str) -> None:
    assert "Welcome back" in log_in(Browser(app.test_client()), email, PASSWORD).text


def test_a_reused_link_is_dead(shop, sink):
    path = link_for(shop, sink, VICTIM)
    browser = Browser(shop.test_client())
    page = browser.submit(browser.get(path), RESET_PAGE, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert page.response.request.path == "/home"
    assert_dead(shop, path)


def test_every_older_link_dies_when_the_password_changes(shop, sink):
    """A link sent ten minutes ago, still within its hour, dies when a newer one sets the password."""
    newer = link_for(shop, sink, VICTIM)
    older = reset_path(signed_long_ago(shop, token_of(newer), 600))
    assert older != newer and Browser(shop.test_client()).get(older).status == 200, "control: the older one works"
    browser = Browser(shop.test_client())
    browser.submit(browser.get(newer), RESET_PAGE, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert_dead(shop, older)


def test_an_expired_link_is_dead_and_one_just_inside_the_hour_still_works(shop, sink):
    token = token_of(link_for(shop, sink, VICTIM))
    lifetime = int(RESET_LINK_LIFETIME.total_seconds())
    assert_dead(shop, reset_path(signed_long_ago(shop, token, lifetime + 5)))
    assert_password_unchanged(shop, VICTIM)
    assert Browser(shop.test_client()).get(reset_path(signed_long_ago(shop, token, lifetime - 60))).status == 200


def test_links_signed_with_another_key_or_salt_are_dead(shop, sink):
    real = token_of(link_for(shop, sink, VICTIM))
    payload = json.loads(base64.urlsafe_b64decode(real.split(".")[0] + "=="))
    assert_dead(shop, reset_path(signed_with("a guessed secret key", payload)))
    assert_dead(shop, reset_path(signed_with(shop.secret_key, payload, salt="itsdangerous")))
    assert_dead(shop, reset_path(signed_with(shop.secret_key, payload, salt="cookie-session")))
    assert_password_unchanged(shop, VICTIM)


def test_a_real_signature_over_someone_elses_account_is_dead(shop, sink):
    """The attacker asks for their own link, then swaps the victim's id into its payload."""
    mine = token_of(link_for(shop, sink, ATTACKER))
    payload_part, *signature = mine.split(".")
    user_id, fingerprint = json.loads(base64.urlsafe_b64decode(payload_part + "=="))
    for victim_id in (user_id - 1, user_id + 1):
        swapped = base64.urlsafe_b64encode(json.dumps([victim_id, fingerprint]).encode()).decode().rstrip("=")
        assert_dead(shop, reset_path(".".join([swapped, *signature])))
    assert_password_unchanged(shop, VICTIM)


@pytest.mark.parametrize(
    "token",
    ["", "x", "0", "a" * 400, "....", "eyJhIjoxfQ.ZZZZZZ.AAAAAAAAAAAAAAAAAAAAAAAAAAA", "\x00", "a b", "é", "[1, 2]"],
)
def test_garbage_and_tampered_tokens_are_dead(shop, sink, token):
    assert_dead(shop, reset_path(token), api=token not in ("", "\x00"))


def test_one_flipped_character_kills_a_real_link(shop, sink):
    token = token_of(link_for(shop, sink, VICTIM))
    for index in (2, len(token) - 3):
        flipped = token[:index] + ("A" if token[index] != "A" else "B") + token[index + 1 :]
        assert_dead(shop, reset_path(flipped))
    assert_password_unchanged(shop, VICTIM)


def test_a_victims_link_opened_in_the_attackers_session_resets_only_the_victim_and_logs_the_attacker_out(shop, sink):
    """Whoever holds the link holds the account it names, no other: the attacker's own password is unchanged."""
    path = link_for(shop, sink, VICTIM)
    attacker = Browser(shop.test_client())
    log_in(attacker, ATTACKER)
    page = attacker.submit(attacker.get(path), RESET_PAGE, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert "Vic Victim" in page.text and "Eve Attacker" not in page.text
    assert_password_unchanged(shop, ATTACKER)
