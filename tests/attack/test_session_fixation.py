"""Logging in gives a new session; a session planted before login is worth nothing after it.

What "session id" means here: Flask keeps the session in the cookie itself,
signed with SECRET_KEY (itsdangerous), and keeps nothing on the server, so
there is no server-side id to fixate. The attack that remains is planting a
cookie the attacker holds (one the site gave them: it carries a CSRF token
they know) and waiting for the victim to log in with it. Blasto defeats that
by renewing the session at login (blasto.site.auth.start_session: everything
but the cart is dropped, then Flask-Login writes `_user_id`, `_fresh` and
`_id`). `_id` is Flask-Login's session protection ("basic" mode): a hash of
the client's address and User-Agent, checked on every request; in basic mode a
mismatch makes the session non-fresh, so it is a tripwire, not the defence.
These tests decode the real cookies with the app's own serializer.
"""

from __future__ import annotations

from flask_login import login_manager as login_manager_module

from blasto.core.extensions import login_manager
from blasto.web.errors import CSRF_MESSAGE
from tests.attack.world import SHOPPER, Browser, is_logged_in
from tests.support.factories import PASSWORD

USER_AGENT = "attack-tests/1.0"


def session_of(app, browser: Browser) -> dict:
    """The session dict the cookie carries, verified with the app's key."""
    cookie = browser.client.get_cookie("session")
    assert cookie is not None
    return dict(app.session_interface.get_signing_serializer(app).loads(cookie.value))


def planted_cookie(app, data: dict) -> str:
    """A validly signed session cookie with `data`, as the site itself could have issued it."""
    return app.session_interface.get_signing_serializer(app).dumps(data)


def log_in(browser: Browser):
    page = browser.get("/login", headers={"User-Agent": USER_AGENT})
    data = page.form("/login").data({"email": SHOPPER, "password": PASSWORD})
    return browser.client.post("/login", data=data, headers={"User-Agent": USER_AGENT})


def test_the_cookie_changes_at_login_and_the_old_one_does_not_authenticate(module_pg_shop, world):
    app = module_pg_shop
    victim = Browser(app.test_client())
    victim.get("/login")  # the site hands out a session carrying a CSRF token
    before = victim.session_cookie()
    assert before and "_user_id" not in session_of(app, victim)

    assert log_in(victim).status_code == 303
    after = victim.session_cookie()

    assert after != before
    stale = Browser(app.test_client())
    stale.client.set_cookie("session", before)
    assert not is_logged_in(stale)
    assert stale.client.get("/purchases").status_code == 302  # sent to log in
    fresh = Browser(app.test_client())
    fresh.client.set_cookie("session", after)
    assert is_logged_in(fresh), "control: the new cookie is the logged-in session"


def test_a_planted_session_is_renewed_and_its_csrf_token_becomes_useless(module_pg_shop, world):
    """The attacker's session (their CSRF token, anything else in it) does not survive the victim's login."""
    app = module_pg_shop
    attacker = Browser(app.test_client())
    attacker_page = attacker.get("/login")
    known_token = attacker_page.form("/login").value("csrf_token")
    planted = session_of(app, attacker)
    planted.update({"planted": "by-the-attacker", "cart": {"1": 1}})
    victim = Browser(app.test_client())
    victim.client.set_cookie("session", planted_cookie(app, planted))

    assert log_in(victim).status_code == 303

    renewed = session_of(app, victim)
    assert "planted" not in renewed and renewed.get("csrf_token") != planted["csrf_token"]
    assert "cart" not in renewed, "the cart (kept by design) moved into the account, out of the cookie"
    forged = victim.client.post("/logout", data={"csrf_token": known_token})
    assert forged.status_code == 400 and CSRF_MESSAGE in forged.get_data(as_text=True)
    assert is_logged_in(victim)


def test_the_logged_in_session_is_fresh_and_bound_to_the_client(module_pg_shop, world):
    app = module_pg_shop
    browser = Browser(app.test_client())
    log_in(browser)
    session = session_of(app, browser)

    assert session["_user_id"].startswith(f"{world.shopper_id}:") and session["_fresh"] is True  # user:log-in
    assert login_manager.session_protection in ("basic", "strong")
    with app.test_request_context(headers={"User-Agent": USER_AGENT}, environ_base={"REMOTE_ADDR": "127.0.0.1"}):
        assert session["_id"] == login_manager_module._create_identifier()
    with app.test_request_context(headers={"User-Agent": "someone else"}, environ_base={"REMOTE_ADDR": "127.0.0.1"}):
        assert session["_id"] != login_manager_module._create_identifier()


def test_a_tampered_cookie_is_ignored(module_pg_shop, world):
    """The signature is what makes a client-side session trustworthy: an edited one is an empty session."""
    app = module_pg_shop
    browser = Browser(app.test_client())
    log_in(browser)
    cookie = browser.session_cookie()
    payload, _, signature = cookie.rpartition(".")
    browser.client.set_cookie("session", payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:])
    assert not is_logged_in(browser)
    forged = Browser(app.test_client())
    forged.client.set_cookie(
        "session", app.session_interface.get_signing_serializer(app).dumps({"_user_id": "2"})[:-3] + "xyz"
    )
    assert not is_logged_in(forged)
