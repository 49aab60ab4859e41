"""A small shop with one of everything, and the tools the attack tests share.

Every kind of row a URL can name (book, purchase, outbox message, report)
exists with id 1, so a route's `<int:...>` arguments can be filled generically
with 1 and reach a real row: a refusal then means the guard worked, not that
the row was missing. Also: URLs built from url_map rules, logged-in browsers,
and a fingerprint of every table to prove a request changed nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select, text, update
from werkzeug.routing import Rule
from werkzeug.routing.converters import AnyConverter, IntegerConverter

from blasto.core.extensions import db
from blasto.models import Product, Purchase, Report, RestockWish, User
from blasto.models.base import utcnow
from blasto.models.login_session import LoginSession
from blasto.models.purchase import STRIPE
from blasto.shop.email_change import change_link
from blasto.shop.password_reset import reset_link
from tests.support.api_client import basic, bearer
from tests.support.factories import PASSWORD, make_admin, make_purchase, make_user, owe_receipt_row
from tests.support.form_browser import Browser, Form, Page
from tests.support.saved_addresses import save_address

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ROWS = (1, 2, 3)  # the row ids a crawl fills into URLs
API_PREFIX = "/api/v1/"
# A third party's routes (Stripe's webhooks): signed by the sender, so no session and no CSRF token.
WEBHOOK_PREFIX = "/webhooks/"


@dataclass(frozen=True)
class World:
    shopper_id: int
    admin_id: int
    other_id: int
    purchase_id: int  # the shopper's
    others_purchase_id: int
    card_purchase_id: int  # the shopper's, paid by card: its page renders the card form
    outbox_id: int
    report_id: int


SHOPPER, ADMIN, OTHER = "shopper@example.com", "admin@example.com", "other@example.com"
# Whose live reset link the crawl opens: an account no test logs in with, so fuzzing its form disturbs nobody.
FORGETFUL = "forgetful@example.com"
RESET_ENDPOINT = "site.choose_password"
CONFIRM_EMAIL_ENDPOINT = "site.confirm_email"  # its live link is FORGETFUL's too: a change to an unused address


def populate(app) -> World:
    """Users, purchases (1 unpaid, 2 paid, 3 unpaid by card), a failed receipt, a finished report, a hidden book and
    two sold-out ones (2, waited for by the shopper; 3); the first of each has id 1."""
    shopper = make_user(app, email=SHOPPER, name="Sam Shopper")
    admin = make_admin(app, email=ADMIN)
    other = make_user(app, email=OTHER, name="Olive Other")
    # Unpaid 1 renders the shopper's cancel form and the admin's "mark paid"; paid 2 the admin's shipping form.
    purchase = make_purchase(app, shopper, {1: 2, 2: 1}, status="awaiting_payment")
    others = make_purchase(app, other, {3: 1})
    card = make_purchase(app, shopper, {1: 1}, status="awaiting_payment")
    with app.app_context():
        db.session.execute(update(Purchase).where(Purchase.id == card).values(payment_method=STRIPE))
        db.session.commit()
    owe_receipt_row(app, purchase, state="failed", last_error="550 mailbox unavailable")
    with app.app_context():
        # Fuzzing the checkout's address fields places many valid orders; the catalogue must not sell out.
        db.session.execute(update(Product).values(stock=Product.stock + 10_000))
        db.session.commit()
    with app.app_context():  # books 2 and 3 sold out: the shopper waits for 2 (its cancel form), not 3 (its ask form)
        db.session.execute(update(Product).where(Product.id.in_((2, 3))).values(stock=0))
        db.session.add(RestockWish(user_id=shopper, product_id=2))
        db.session.commit()
    with app.app_context():  # a hidden book on the admin list's first page, so its "show again" form is rendered
        hidden = db.session.scalar(select(Product).where(Product.id != 1).order_by(Product.title).limit(1))
        hidden.hidden = True
        db.session.commit()
    with app.app_context():
        today = date.today()
        report = Report(
            date_from=today - timedelta(days=7),
            date_to=today,
            state="done",
            progress=100,
            attempts=1,
            finished_at=utcnow(),
            expires_at=utcnow() + timedelta(days=1),
            summary={},
            days_csv="day,orders\n",
            books_csv="book,units\n",
            chart_png=b"\x89PNG\r\n\x1a\n",
        )
        db.session.add(report)
        db.session.commit()
        report_id = report.id
        outbox_id = db.session.scalar(text("SELECT min(id) FROM outbox_messages"))
    make_user(app, email=FORGETFUL, name="Fay Forgetful")
    # The account page renders "log out that session" for a log-in on another device, and "delete" for an address.
    save_address(app, shopper)
    with app.app_context():
        db.session.add(LoginSession(user_id=shopper))
        db.session.commit()
    world = World(shopper, admin, other, purchase, others, card, outbox_id, report_id)
    assert (world.shopper_id, world.purchase_id, world.outbox_id, world.report_id) == (1, 1, 1, 1), world
    assert world.card_purchase_id == ROWS[-1], world
    return world


def promote(app, user_id: int) -> None:
    with app.app_context():
        db.session.get(User, user_id).is_admin = True
        db.session.commit()


def url_for_rule(rule: Rule, number: int = 1) -> str:
    """The rule's URL with every argument filled: `number` for ints, the first choice for any(...)."""
    values = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            values[name] = max(number, converter.min or 0)
        elif isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        else:
            values[name] = "1"
    return rule.build(values, append_unknown=False)[1]


def find_rule(app, rule_text: str) -> Rule:
    return next(rule for rule in app.url_map.iter_rules() if rule.rule == rule_text)


def rule_for_path(app, path: str, method: str = "POST") -> Rule | None:
    """The rule a request to `path` would reach, or None."""
    try:
        endpoint, _ = app.url_map.bind("localhost").match(path, method=method)
    except Exception:
        return None
    return next(rule for rule in app.url_map.iter_rules(endpoint) if method in rule.methods)


def live_confirm_path(app) -> str:
    """An e-mail change link's path with a live token (as the worker signs one), for FORGETFUL."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == FORGETFUL))
        return change_link("/account/email/confirm", user, "forgetful.new@example.com")


def live_reset_path(app) -> str:
    """A reset link's path with a live token (the worker signs one so), for FORGETFUL."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == FORGETFUL))
        return reset_link("/password-reset/new", user)


def crawl_forms(app, browser: Browser, prefix: str = "/") -> dict[str, tuple[str, Form]]:
    """Rule of a POST form's action -> (the page that renders it, the form), over every GET page under `prefix`.

    A page naming a row is visited for rows 1 to 3: an order's forms depend
    on its state and how it is paid, and the world's three purchases differ so.
    A reset or e-mail change link names no row: its page is opened with a live token.
    """
    found: dict[str, tuple[str, Form]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if (
            "GET" not in rule.methods
            or rule.endpoint == "static"
            or not rule.rule.startswith(prefix)
            or rule.rule.startswith(API_PREFIX)
        ):
            continue
        if rule.endpoint == RESET_ENDPOINT:
            urls = [live_reset_path(app)]
        elif rule.endpoint == CONFIRM_EMAIL_ENDPOINT:
            urls = [live_confirm_path(app)]
        else:
            urls = [url_for_rule(rule, number) for number in (ROWS if rule.arguments else (1,))]
        for url in urls:
            page = browser.get(url)
            for form in page.forms:
                target = rule_for_path(app, urlsplit(form.action).path)
                if form.method == "post" and target is not None:
                    found.setdefault(target.rule, (url, form))
    return found


def write_rules(app) -> list[tuple[Rule, str]]:
    """(rule, method) for every state-changing route, in a stable order."""
    return sorted(
        ((rule, method) for rule in app.url_map.iter_rules() for method in sorted(rule.methods & WRITE_METHODS)),
        key=lambda pair: (pair[0].rule, pair[1]),
    )


def logged_in(app, email: str) -> Browser:
    """A browser logged in through the real login form (with its CSRF token)."""
    browser = Browser(app.test_client())
    page = browser.submit(browser.get("/login"), "/login", {"email": email, "password": PASSWORD})
    assert page.has_form("/logout"), page.text[:500]
    return browser


def bearer_for(app, email: str) -> dict:
    """An Authorization header with a fresh token from POST /api/v1/tokens."""
    response = app.test_client().post("/api/v1/tokens", headers=basic(email, PASSWORD))
    assert response.status_code == 201, response.get_data(as_text=True)
    return bearer(response.get_json()["token"])


def is_logged_in(browser: Browser) -> bool:
    page: Page = browser.get("/cart")
    return page.has_form("/logout")


def database_fingerprint(app) -> dict[str, tuple[int, str]]:
    """Each table's row count and a digest of all its rows, in primary-key order."""
    fingerprint = {}
    with app.app_context():
        for table in db.metadata.sorted_tables:
            rows = db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
            fingerprint[table.name] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        db.session.rollback()
    return fingerprint
