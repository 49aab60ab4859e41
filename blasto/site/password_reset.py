"""Forgot password: ask for a link by e-mail, then choose a new password with it.

Asking always gets the same answer, whether or not an account uses the
address, so the form cannot be used to find out who shops here. The link's
rules (signed, expiring, single-use) are the shop's: blasto.shop.password_reset.
"""

from __future__ import annotations

from flask import flash, render_template, request, url_for

from blasto.shop.password_reset import ASKED, DEAD_LINK, ask_for_reset, reset_password, user_for_token
from blasto.site import bp
from blasto.site.auth import start_session
from blasto.site.forms import ForgotPasswordForm, ResetPasswordForm
from blasto.web.redirects import see_other

RESET_DONE = (
    "Your password is changed and you are logged in. Every other session of your account is logged out, "
    "and its API tokens are revoked."
)


@bp.route("/password-reset", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        ask_for_reset(form.email.data)
        flash(ASKED, "info")
        return see_other(url_for("site.forgot_password"))
    status = 400 if form.errors else 200
    return render_template("password_forgot.html", form=form), status


@bp.route("/password-reset/new", methods=["GET", "POST"])
def choose_password():
    """The e-mail's link: ?token=... on the GET, a hidden field on the POST (the log has the path alone)."""
    token = request.values.get("token", "")
    user = user_for_token(token)
    if user is None:
        return render_template("password_link_dead.html", message=DEAD_LINK), 410
    form = ResetPasswordForm()
    form.email = user.email
    if form.validate_on_submit():
        reset_password(user, form.password.data)
        start_session(user, remember=False)
        flash(RESET_DONE, "success")
        return see_other(url_for("site.home"))
    status = 400 if form.errors else 200
    return render_template("password_reset.html", form=form, token=token), status
