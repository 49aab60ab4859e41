"""Sign up, log in and log out (Flask-Login sessions).

Logging in renews the session: everything but the cart is dropped before
`login_user`, so a session id or CSRF token planted before login is useless
after it. Each log-in is a row (blasto.models.login_session) that logging out
ends, so a copied cookie dies with the session it was copied from. Unknown e-mail and wrong password get the same message and take
about the same time, so the form does not reveal who has an account.
"""

from __future__ import annotations

from flask import current_app, flash, g, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import User
from blasto.models.login_session import begin_login, end_login
from blasto.models.user import check_nobodys_password
from blasto.shop.accounts import EmailTaken, sign_up
from blasto.site import bp
from blasto.site.cart import CART_KEY, merge_anonymous_cart
from blasto.site.forms import LoginForm, LogoutForm, SignupForm
from blasto.web.devices import device_name
from blasto.web.expired_forms import restore_typed
from blasto.web.redirects import next_from_request, see_other

WRONG_CREDENTIALS = "Wrong e-mail or password."
DUPLICATE_EMAIL = "An account with this e-mail already exists; log in instead."


def start_session(user: User, remember: bool) -> None:
    """A fresh session for the user, keeping only the cart (and a new CSRF token)."""
    cart = session.get(CART_KEY)
    session.clear()
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)  # Flask-WTF's per-request copy
    if cart:
        session[CART_KEY] = cart
    begin_login(user, device_name(request.user_agent.string))
    login_user(user, remember=remember)
    merge_anonymous_cart(user)


def _after_login() -> str:
    return next_from_request() or url_for("site.home")


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if current_user.is_authenticated:
        return see_other(_after_login())
    form = SignupForm()
    if request.method == "GET":
        restore_typed(form)  # what was typed before the session expired (never the password)
    if form.validate_on_submit():
        try:
            user = sign_up(form.email.data, form.name.data, form.password.data)
        except EmailTaken:  # the same e-mail signed up a moment ago
            form.email.errors.append(DUPLICATE_EMAIL)
        else:
            start_session(user, remember=False)
            flash(f"Welcome to Blasto, {user.name}! Your account is ready.", "success")
            return see_other(_after_login())
    status = 400 if form.errors else 200
    return render_template("signup.html", form=form, next_url=next_from_request()), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return see_other(_after_login())
    form = LoginForm()
    if request.method == "GET":
        restore_typed(form)  # the e-mail typed before the session expired (never the password)
    error = None
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.email == form.email.data))
        if user is None:
            check_nobodys_password(form.password.data)
        elif user.check_password(form.password.data):
            start_session(user, remember=form.remember.data)
            flash(f"Welcome back, {user.name}.", "success")
            return see_other(_after_login())
        error = WRONG_CREDENTIALS
    status = 400 if (error or form.errors) else 200
    return render_template("login.html", form=form, error=error, next_url=next_from_request()), status


@bp.post("/logout")
def logout():
    if LogoutForm().validate_on_submit():
        if current_user.is_authenticated:
            end_login(current_user)  # copies of this session's cookies stop working too
        session.clear()  # before logout_user, which marks the remember cookie for deletion
        logout_user()
        flash("You are logged out.", "info")
    return see_other(url_for("site.home"))
