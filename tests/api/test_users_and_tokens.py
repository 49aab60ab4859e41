"""Accounts and tokens: sign up, exchange a password for a token, revoke it."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from blasto.core.extensions import db
from blasto.models import ApiToken, User
from blasto.models.base import utcnow
from tests.support.api_client import assert_error, basic, bearer
from tests.support.factories import PASSWORD


def test_sign_up_answers_201_with_location_and_no_password(api):
    response = api.signup("Ada@Example.com", name="  Ada  ")
    assert response.status_code == 201
    body = response.get_json()
    assert body["email"] == "ada@example.com" and body["name"] == "Ada" and body["is_admin"] is False
    assert "password" not in body and "password_hash" not in body
    assert response.headers["Location"] == body["_links"]["self"] == f"/api/v1/users/{body['id']}"
    token = api.token("ada@example.com")
    assert api.http.get(response.headers["Location"], headers=bearer(token)).get_json()["id"] == body["id"]
    stored = db.session.get(User, body["id"])
    assert stored.password_hash != PASSWORD and stored.check_password(PASSWORD)


def test_duplicate_email_is_409_whatever_its_case(api):
    assert api.signup("bob@example.com").status_code == 201
    body = assert_error(api.signup("BOB@example.com "), 409, "conflict")
    assert "already exists" in body["message"]
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"password": PASSWORD, "name": "N"}, "email"),
        ({"email": "not-an-address", "password": PASSWORD, "name": "N"}, "email"),
        ({"email": "a@example.com", "password": "short", "name": "N"}, "password"),
        ({"email": "a@example.com", "password": "x" * 129, "name": "N"}, "password"),
        ({"email": "a@example.com", "password": PASSWORD, "name": "   "}, "name"),
        ({"email": "a@example.com", "password": PASSWORD}, "name"),
        ({"email": "a@example.com", "password": PASSWORD, "name": "N", "is_admin": True}, "is_admin"),
        ({"email": ["a@example.com"], "password": PASSWORD, "name": "N"}, "email"),
    ],
)
@pytest.mark.sweep
def test_invalid_sign_up_is_422_with_the_field_named(api, payload, field):
    body = assert_error(api.http.post("/api/v1/users", json=payload), 422, "unprocessable_entity")
    assert field in body["errors"]["json"], body
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_sign_up_body_must_be_json(api):
    assert_error(api.http.post("/api/v1/users", data="email=a@example.com"), 415, "unsupported_media_type")
    assert_error(api.http.post("/api/v1/users", data="{oops", content_type="application/json"), 400, "bad_request")
    assert_error(api.http.post("/api/v1/users", json=["a", "list"]), 422)


def test_me_needs_a_bearer_token(api):
    user = api.user("me@example.com")
    body = api.get("/api/v1/users/me", user).get_json()
    assert body["id"] == user["id"] and body["email"] == "me@example.com"
    response = api.http.get("/api/v1/users/me")
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_another_users_profile_is_404(api):
    mine, theirs = api.user("mine@example.com"), api.user("theirs@example.com")
    assert_error(api.get(f"/api/v1/users/{theirs['id']}", mine), 404, "not_found")
    assert_error(api.get("/api/v1/users/99999999999", mine), 404)


def test_token_needs_basic_auth_and_the_right_password(api):
    api.signup("tok@example.com")
    response = api.http.post("/api/v1/tokens", headers=basic("TOK@example.com", PASSWORD))
    assert response.status_code == 201
    body = response.get_json()
    assert body["token_type"] == "Bearer" and len(body["token"]) >= 40 and body["expires_at"]
    # Only the digest is stored.
    assert db.session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.digest == body["token"])) == 0

    wrong = assert_error(api.http.post("/api/v1/tokens", headers=basic("tok@example.com", "wrong password")), 401)
    unknown = assert_error(api.http.post("/api/v1/tokens", headers=basic("nobody@example.com", PASSWORD)), 401)
    assert wrong["message"] == unknown["message"], "no hint whether the e-mail exists"
    missing = api.http.post("/api/v1/tokens")
    assert_error(missing, 401)
    assert missing.headers["WWW-Authenticate"].startswith("Basic")
    assert_error(api.http.post("/api/v1/tokens", headers={"Authorization": "Basic !!!not-base64"}), 401)


def test_revoked_token_stops_working_at_once(api):
    user = api.user("rev@example.com")
    assert api.http.delete("/api/v1/tokens", headers=user["headers"]).status_code == 204
    body = assert_error(api.get("/api/v1/users/me", user), 401)
    assert "revoked" in body["message"]
    assert_error(api.http.delete("/api/v1/tokens", headers=user["headers"]), 401)
    other = api.token("rev@example.com")  # a new one works
    assert api.http.get("/api/v1/users/me", headers=bearer(other)).status_code == 200


def test_expired_token_is_401(api):
    user = api.user("old@example.com")
    db.session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert "expired" in assert_error(api.get("/api/v1/users/me", user), 401)["message"]


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Bearer not-a-real-token", "Token abc", "Basic abc", "Bearer " + "x" * 5000, "bearer \x7f"],
)
@pytest.mark.sweep
def test_malformed_or_unknown_tokens_are_401(api, header):
    api.user("someone@example.com")
    assert_error(api.http.get("/api/v1/users/me", headers={"Authorization": header}), 401, "unauthorized")


def test_the_scheme_is_case_insensitive_and_spaces_around_the_token_are_ignored(api):
    user = api.user("loose@example.com")
    loose = {"Authorization": f"bearer   {user['token']}  "}
    assert api.http.get("/api/v1/users/me", headers=loose).status_code == 200
    assert api.http.get("/api/v1/purchases", headers=loose).status_code == 200
