"""Password reset over the API: ask for the e-mail, then set a new password with its token.

The same rules as the site's pages (blasto.shop.password_reset): asking always
gets the same 202, and a token works once, for a limited time.
"""

from __future__ import annotations

from flask_smorest import Blueprint

from blasto.api import URL_PREFIX, abort
from blasto.api.json_body import require_json_body
from blasto.api.schemas import MessageSchema, PasswordResetAskSchema, PasswordResetConfirmSchema
from blasto.shop.password_reset import ASKED, DEAD_LINK, ask_for_reset, reset_password, user_for_token
from blasto.shop.passwords import password_problem

blp = Blueprint(
    "password_reset", __name__, url_prefix=f"{URL_PREFIX}/password-reset", description="Forgotten passwords"
)
blp.before_request(require_json_body)


@blp.post("")
@blp.arguments(PasswordResetAskSchema)
@blp.response(202, MessageSchema)
@blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
@blp.alt_response(429, response="TOO_MANY_REQUESTS")  # rate limited: blasto.security.rate_limits
def ask(data):
    """E-mail a reset link to the account using this address. The answer is the same whether or not one does."""
    ask_for_reset(data["email"])
    return {"message": ASKED}


@blp.post("/confirm")
@blp.arguments(PasswordResetConfirmSchema)
@blp.response(204)
@blp.alt_response(400, response="BAD_REQUEST", description="The token has expired, was already used, or is not ours")
@blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
def confirm(data):
    """Set a new password. Every log-in session and API token of the account ends; ask POST /api/v1/tokens for a new one."""
    user = user_for_token(data["token"])
    if user is None:
        abort(400, message=DEAD_LINK)
    problem = password_problem(data["password"], user.email)
    if problem:
        abort(
            422,
            message="The request is not valid; see errors for each field.",
            errors={"json": {"password": [problem]}},
        )
    reset_password(user, data["password"])
    return ""
