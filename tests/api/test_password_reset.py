"""Password reset over the API: the same 202 for every address, then a token from the e-mail sets a new password."""

from __future__ import annotations

import pytest

from blasto.shop.password_reset import ASKED, DEAD_LINK
from blasto.shop.passwords import COMMON, LIKE_EMAIL
from tests.support.api_client import ApiClient, assert_error, basic, bearer
from tests.support.factories import PASSWORD
from tests.support.password_resets import mail_to, mailed_reset_path, reset_emails_owed, token_of

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def reset_api(api, sink) -> ApiClient:
    mail_to(api.app, sink)
    return api


def ask(api: ApiClient, email):
    return api.http.post("/api/v1/password-reset", json={"email": email})


def confirm(api: ApiClient, token, password=NEW_PASSWORD):
    return api.http.post("/api/v1/password-reset/confirm", json={"token": token, "password": password})


def mailed_token(api: ApiClient, sink, email: str) -> str:
    assert ask(api, email).status_code == 202
    return token_of(mailed_reset_path(api.app, sink, email))


def test_asking_answers_202_with_the_same_body_whether_or_not_the_address_has_an_account(reset_api):
    assert reset_api.signup("known@example.com").status_code == 201
    known, unknown = ask(reset_api, "Known@Example.com"), ask(reset_api, "unknown@example.com")
    assert known.status_code == unknown.status_code == 202
    assert known.get_json() == unknown.get_json() == {"message": ASKED}
    assert reset_emails_owed(reset_api.app) == 1


def test_the_token_from_the_email_sets_a_new_password_and_revokes_every_api_token(reset_api, sink):
    user = reset_api.user("api-reset@example.com")
    token = mailed_token(reset_api, sink, "api-reset@example.com")
    response = confirm(reset_api, token)
    assert response.status_code == 204 and response.get_data() == b""
    assert_error(reset_api.get("/api/v1/users/me", user), 401)
    assert_error(reset_api.http.post("/api/v1/tokens", headers=basic("api-reset@example.com", PASSWORD)), 401)
    fresh = reset_api.token("api-reset@example.com", NEW_PASSWORD)
    assert reset_api.http.get("/api/v1/users/me", headers=bearer(fresh)).get_json()["id"] == user["id"]


def test_a_token_works_once(reset_api, sink):
    reset_api.user("once@example.com")
    token = mailed_token(reset_api, sink, "once@example.com")
    assert confirm(reset_api, token).status_code == 204
    body = assert_error(confirm(reset_api, token, "yet another passphrase"), 400, "bad_request")
    assert body["message"] == DEAD_LINK
    assert reset_api.token("once@example.com", NEW_PASSWORD)


@pytest.mark.parametrize(
    ("password", "problem"),
    [("short", "Use between 10 and 128 characters."), ("qwertyuiop", COMMON), ("rule@example.com", LIKE_EMAIL)],
)
def test_the_new_password_follows_the_house_rule_and_a_refusal_keeps_the_token(reset_api, sink, password, problem):
    reset_api.user("rule@example.com")
    token = mailed_token(reset_api, sink, "rule@example.com")
    body = assert_error(confirm(reset_api, token, password), 422)
    assert body["errors"]["json"]["password"] == [problem]
    assert confirm(reset_api, token).status_code == 204


@pytest.mark.parametrize(
    "body",
    [{}, {"email": "not an address"}, {"email": 7}, {"email": "a@example.com", "extra": 1}],
)
def test_a_bad_ask_is_a_422_naming_the_field(reset_api, body):
    assert_error(reset_api.http.post("/api/v1/password-reset", json=body), 422)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"token": "x"},
        {"password": NEW_PASSWORD},
        {"token": 5, "password": NEW_PASSWORD},
        {"token": "x" * 501, "password": NEW_PASSWORD},
    ],
)
def test_a_bad_confirm_body_is_a_422(reset_api, body):
    assert_error(reset_api.http.post("/api/v1/password-reset/confirm", json=body), 422)


def test_a_form_body_is_a_415(reset_api):
    assert_error(reset_api.http.post("/api/v1/password-reset", data={"email": "a@example.com"}), 415)
