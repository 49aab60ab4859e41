"""Bearer tokens: exchange an e-mail and password for one; revoke it."""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from sqlalchemy import update

from blasto.api import BASIC, URL_PREFIX
from blasto.api.auth import basic_user, token_auth
from blasto.api.schemas import TokenSchema
from blasto.core.extensions import db
from blasto.models import ApiToken
from blasto.models.base import utcnow

blp = Blueprint("tokens", __name__, url_prefix=f"{URL_PREFIX}/tokens", description="Bearer tokens")


@blp.post("")
@blp.doc(security=BASIC)
@blp.response(201, TokenSchema)
@blp.alt_response(401, response="UNAUTHORIZED")
@blp.alt_response(429, response="TOO_MANY_REQUESTS")  # rate limited: blasto.security.rate_limits
def create_token():
    """A new token for the HTTP Basic user, valid for 24 hours."""
    user = basic_user()
    token, plaintext = ApiToken.issue(user.id)
    db.session.add(token)
    db.session.commit()
    return {"token": plaintext, "token_type": "Bearer", "expires_at": token.expires_at}


@blp.delete("")
@token_auth(blp)
@blp.response(204)
def revoke_token():
    """Revoke the token this request presents; it stops working at once."""
    db.session.execute(
        update(ApiToken).where(ApiToken.id == g.token_id, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
    db.session.commit()
    return ""
