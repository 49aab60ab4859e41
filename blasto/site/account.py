"""The account page: name, password, log-ins, saved addresses, and deleting the account.

Every change is a POST with its CSRF token; the rules live in
blasto.shop.account_settings. A log-in or address id that is not the
shopper's own answers 404, the same as one that does not exist.
"""

from __future__ import annotations

from flask import abort, flash, render_template, request, session, url_for
from flask_login import current_user, login_required, logout_user

from blasto.models.base import ID_CONVERTER
from blasto.shop.account_settings import (
    LastAdmin,
    change_password,
    delete_account,
    end_every_other_login,
    end_other_login,
    forget_address,
    is_last_admin,
    open_logins,
    rename,
)
from blasto.shop.accounts import EmailTaken
from blasto.shop.email_change import DEAD_LINK, TAKEN, ask_for_change, change_for_token, confirm_change
from blasto.shop.shipping import saved_addresses
from blasto.site import bp
from blasto.site.auth import start_session
from blasto.site.forms import ChangePasswordForm, ConfirmEmailForm, DeleteAccountForm, EmailChangeForm, NameForm
from blasto.web.forms import CsrfOnlyForm
from blasto.web.redirects import see_other

WRONG_PASSWORD = "That is not your current password."
PASSWORD_CHANGED = (
    "Your password is changed. Every other session of your account is logged out, and its API tokens are revoked."
)
LAST_ADMIN = (
    "You are the shop's only admin, so your account cannot be deleted: nobody could run the shop. "
    "Make another account an admin first (flask create-admin)."
)
ACCOUNT_DELETED = "Your account is deleted. Your orders are kept for the shop's books, without your name or e-mail."


EMAIL_ASKED = "We have sent a link to {email}. Your address changes when you follow it (within 24 hours)."
EMAIL_CHANGED = "Your e-mail address is now {email}. We have told your old address."


def _page(name_form=None, password_form=None, email_form=None, status=200):
    name_form = name_form or NameForm(formdata=None, name=current_user.name)
    password_form = password_form or ChangePasswordForm(formdata=None)
    email_form = email_form or EmailChangeForm(formdata=None)
    return render_template(
        "account.html",
        name_form=name_form,
        password_form=password_form,
        email_form=email_form,
        logins=open_logins(current_user.id),
        this_login=current_user.login_id,
        addresses=saved_addresses(current_user.id),
    ), status


@bp.get("/account")
@login_required
def account():
    return _page()


@bp.post("/account/name")
@login_required
def account_name():
    form = NameForm()
    if form.validate_on_submit():
        rename(current_user, form.name.data)
        flash("Your name is changed.", "success")
        return see_other(url_for("site.account"))
    return _page(name_form=form, status=400)


@bp.post("/account/password")
@login_required
def account_password():
    form = ChangePasswordForm()
    form.email = current_user.email
    if form.validate_on_submit():
        if current_user.check_password(form.current.data):
            user = current_user._get_current_object()
            change_password(user, form.password.data)
            start_session(user, remember=False)  # a fresh log-in for this browser: only the others end
            flash(PASSWORD_CHANGED, "success")
            return see_other(url_for("site.account"))
        form.current.errors = [WRONG_PASSWORD]
    return _page(password_form=form, status=400)


@bp.post("/account/email")
@login_required
def account_email():
    form = EmailChangeForm()
    if form.validate_on_submit():
        if not current_user.check_password(form.email_current.data):
            form.email_current.errors = [WRONG_PASSWORD]
        else:
            try:
                ask_for_change(current_user._get_current_object(), form.email.data)
            except EmailTaken:
                form.email.errors = [TAKEN]
            except ValueError as same:
                form.email.errors = [str(same)]
            else:
                flash(EMAIL_ASKED.format(email=form.email.data), "info")
                return see_other(url_for("site.account"))
    return _page(email_form=form, status=400)


@bp.route("/account/email/confirm", methods=["GET", "POST"])
def confirm_email():
    """The e-mail's link: ?token=... on the GET, a hidden field on the POST (the log has the path alone)."""
    token = request.values.get("token", "")
    change = change_for_token(token)
    if change is None:
        return render_template("account_email_confirm.html", dead=DEAD_LINK), 410
    user, new_email = change
    form = ConfirmEmailForm()
    error = None
    if form.validate_on_submit():
        try:
            confirm_change(user, new_email)
        except EmailTaken:
            error = TAKEN
        else:
            flash(EMAIL_CHANGED.format(email=new_email), "success")
            return see_other(url_for("site.account" if current_user.is_authenticated else "site.login"))
    status = 409 if error else 200
    return render_template(
        "account_email_confirm.html", form=form, token=token, new_email=new_email, error=error
    ), status


def _valid_post() -> None:
    if not CsrfOnlyForm().validate_on_submit():
        abort(400)


@bp.post(f"/account/sessions/<{ID_CONVERTER}:login_id>/end")
@login_required
def end_session(login_id: int):
    _valid_post()
    if login_id == current_user.login_id or not end_other_login(current_user.id, login_id):
        abort(404)
    flash("That session is logged out.", "success")
    return see_other(url_for("site.account", _anchor="sessions"))


@bp.post("/account/sessions/end-others")
@login_required
def end_other_sessions():
    _valid_post()
    ended = end_every_other_login(current_user.id, current_user.login_id)
    flash(f"{ended} other {'session is' if ended == 1 else 'sessions are'} logged out.", "success")
    return see_other(url_for("site.account", _anchor="sessions"))


@bp.post(f"/account/addresses/<{ID_CONVERTER}:address_id>/delete")
@login_required
def delete_address(address_id: int):
    _valid_post()
    if not forget_address(current_user.id, address_id):
        abort(404)
    flash("The address is deleted. Orders already sent there keep their own copy.", "success")
    return see_other(url_for("site.account", _anchor="addresses"))


@bp.route("/account/delete", methods=["GET", "POST"])
@login_required
def account_delete():
    form = DeleteAccountForm()
    if form.validate_on_submit():
        if current_user.check_password(form.current.data):
            try:
                delete_account(current_user._get_current_object())
            except LastAdmin:
                flash(LAST_ADMIN, "error")
                return see_other(url_for("site.account"))
            session.clear()  # before logout_user, which marks the remember cookie for deletion
            logout_user()
            flash(ACCOUNT_DELETED, "info")
            return see_other(url_for("site.home"))
        form.current.errors = [WRONG_PASSWORD]
    status = 400 if form.errors else 200
    last_admin = is_last_admin(current_user._get_current_object())
    return render_template("account_delete.html", form=form, last_admin=last_admin), status
