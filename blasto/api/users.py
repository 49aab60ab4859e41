"""Accounts: sign up, and read your own profile."""

from __future__ import annotations

from flask import g, url_for
from flask_smorest import Blueprint, abort
from sqlalchemy import select

from blasto.api import URL_PREFIX
from blasto.api.auth import token_auth
from blasto.api.json_body import require_json_body
from blasto.api.schemas import UserCreateSchema, UserSchema
from blasto.core.extensions import db
from blasto.models import User
from blasto.models.base import ID_CONVERTER
from blasto.shop.accounts import EmailTaken, sign_up

blp = Blueprint("users", __name__, url_prefix=f"{URL_PREFIX}/users", description="Accounts")
blp.before_request(require_json_body)
DUPLICATE = "An account with this e-mail address already exists."


def user_json(user: User) -> dict:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "is_admin": user.is_admin,
        "created_at": user.created_at,
        "_links": {"self": url_for("users.get_user", user_id=user.id)},
    }


@blp.post("")
@blp.arguments(UserCreateSchema)
@blp.response(201, UserSchema, headers={"Location": {"description": "The new user", "schema": {"type": "string"}}})
@blp.alt_response(409, response="CONFLICT")
@blp.alt_response(429, response="TOO_MANY_REQUESTS")  # rate limited: blasto.security.rate_limits
def create_user(data):
    """Sign up. The e-mail address is compared case-insensitively."""
    if db.session.scalar(select(User.id).where(User.email == data["email"])) is not None:
        abort(409, message=DUPLICATE)
    try:
        user = sign_up(data["email"], data["name"], data["password"])
    except EmailTaken:  # the same address, signed up a moment earlier
        abort(409, message=DUPLICATE)
    return user_json(user), 201, {"Location": url_for("users.get_user", user_id=user.id)}


@blp.get("/me")
@token_auth(blp)
@blp.response(200, UserSchema)
def me():
    """The account the token belongs to."""
    return user_json(db.get_or_404(User, g.user_id))


@blp.get(f"/<{ID_CONVERTER}:user_id>")
@token_auth(blp)
@blp.response(200, UserSchema)
@blp.alt_response(404, response="NOT_FOUND")
def get_user(user_id: int):
    """One account: only your own (anyone else's is a 404)."""
    if user_id != g.user_id:
        abort(404, message="No such user.")
    return user_json(db.get_or_404(User, user_id))
