"""Admin pages under /admin: only for users with the admin flag.

Anyone else who is logged in gets a 404, not a 403: the admin area does not
announce itself. Visitors who are not logged in are sent to the login page,
like every other page that needs an account.
"""

from flask import Blueprint, abort
from flask_login import current_user, login_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def admins_only():
    if not current_user.is_admin:
        abort(404)


from blasto.admin import (  # noqa: E402,F401
    books,
    dashboard,
    outbox,
    purchases,
    reports,
)
