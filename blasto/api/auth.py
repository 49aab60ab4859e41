"""Who is calling: HTTP Basic to obtain a token, a bearer token for the rest.

The bearer lookup runs on every authenticated request, so it is one indexed
Core query on the token digest (no ORM objects). Failures are 401 with a
`WWW-Authenticate` challenge and a message that says which rule failed.
"""

from __future__ import annotations

import functools

from flask import g, request
from sqlalchemy import select

from blasto.api import BEARER, abort
from blasto.core.extensions import db
from blasto.models import User
from blasto.models.base import utcnow
from blasto.models.token import token_by_digest, token_digest
from blasto.models.user import check_nobodys_password

BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="Blasto API"'}
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="Blasto API", charset="UTF-8"'}
MAX_TOKEN_LENGTH = 200

TOKEN_QUERY = token_by_digest()


def bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    if not token:
        abort(
            401,
            message="Send a token as 'Authorization: Bearer <token>' (get one from POST /api/v1/tokens).",
            headers=BEARER_CHALLENGE,
        )
    if len(token) > MAX_TOKEN_LENGTH:
        abort(401, message="The token is not valid.", headers=BEARER_CHALLENGE)
    return token


def accept_token(row) -> None:
    """Set g.user_id and g.token_id from a token row (id, user_id, expires_at, revoked_at), or abort 401."""
    if row is None:
        abort(401, message="The token is not valid.", headers=BEARER_CHALLENGE)
    if row.revoked_at is not None:
        abort(401, message="The token has been revoked.", headers=BEARER_CHALLENGE)
    if row.expires_at <= utcnow():
        abort(401, message="The token has expired; get a new one from POST /api/v1/tokens.", headers=BEARER_CHALLENGE)
    g.user_id, g.token_id = row.user_id, row.token_id


def authenticate_bearer() -> None:
    """Look the request's token up and accept it, or abort 401."""
    accept_token(db.session.execute(TOKEN_QUERY, {"digest": token_digest(bearer_token())}).first())


def token_auth(blp):
    """Decorator for `blp`'s views that need a bearer token; documents it too."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            authenticate_bearer()
            return view(*args, **kwargs)

        wrapper = blp.alt_response(401, response="UNAUTHORIZED")(wrapper)
        return blp.doc(security=BEARER)(wrapper)

    return decorate


def basic_user() -> User:
    """The user named by HTTP Basic credentials, or abort 401 (same answer for a wrong e-mail or password)."""
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username or auth.password is None:
        abort(401, message="Send your e-mail and password with HTTP Basic authentication.", headers=BASIC_CHALLENGE)
    email = auth.username.strip().lower()
    password = auth.password
    # No stored e-mail is that long or holds NUL (which Postgres cannot even compare): nobody, without asking.
    lookup = len(email) <= 254 and len(password) <= 1024 and "\x00" not in email
    user = db.session.scalar(select(User).where(User.email == email)) if lookup else None
    if user is None:
        check_nobodys_password(password[:1024])
        abort(401, message="Wrong e-mail or password.", headers=BASIC_CHALLENGE)
    if not user.check_password(password):
        abort(401, message="Wrong e-mail or password.", headers=BASIC_CHALLENGE)
    return user
