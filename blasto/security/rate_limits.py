"""Rate limits on the doors attackers push: log in, sign up, check out, ask for a password reset (Flask-Limiter).

POSTs only, to the page and the API form of each action, which share one
counter, so switching between POST /login and POST /api/v1/tokens buys nothing.
Keys: the client address after ProxyFix (IPv6 per /64) for every action, and
for logging in also failed attempts per submitted e-mail address (hashed), which
stops guessing spread over many addresses (and asking for reset links, per
address, so nobody can flood a mailbox). A breach is a 429 with Retry-After,
rendered like every error. Counts live in Redis when REDIS_URL is set; if Redis
stops answering, Flask-Limiter counts in memory: an outage of the limiter never
takes the shop down. The limits are attached in one place, with the limiter's
own decorator over the registered views. Settings and the reasoning behind the
keys: README, "Behind the router".
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from flask import Flask, Response, current_app, g, request
from flask.typing import RouteCallable
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user

from blasto.api import URL_PREFIX

EXTENSION_KEY = "blasto.limiter"
LOGIN_ENDPOINTS = ("site.login", "tokens.create_token")
RESET_ENDPOINTS = ("site.forgot_password", "password_reset.ask")
# The account page's forms that ask for the current password: a stolen session must not guess it.
ACCOUNT_PASSWORD_ENDPOINTS = ("site.account_password", "site.account_email", "site.account_delete")


def client_address() -> str:
    """The client's address from the router (ProxyFix), an IPv6 one as its /64."""
    address = get_remote_address()
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return address


def submitted_email() -> str:
    """The e-mail a log-in names (the form's field, or HTTP Basic's user), normalised; "" when none."""
    if request.path.startswith(URL_PREFIX):
        auth = request.authorization
        email = auth.username if auth is not None and auth.type == "basic" else None
    else:
        email = request.form.get("email")
    return (email or "").strip().lower()


def reset_email() -> str:
    """The e-mail a password reset names (the form's field, or the JSON body's), normalised; "" when none."""
    if request.path.startswith(URL_PREFIX):
        body = request.get_json(silent=True)
        email = body.get("email") if isinstance(body, dict) else None
    else:
        email = request.form.get("email")
    return email.strip().lower() if isinstance(email, str) else ""


def account_key() -> str:
    """A keyed hash of the address: Redis and the limiter's log lines never hold one an outsider could match."""
    return _keyed(submitted_email())


def reset_account_key() -> str:
    return _keyed(reset_email())


def _keyed(email: str) -> str:
    if not email:
        return ""
    secret = current_app.secret_key
    assert secret is not None  # sessions and CSRF need SECRET_KEY, so every configured app has one
    digest = hmac.new(secret.encode() if isinstance(secret, str) else secret, email.encode(), hashlib.sha256)
    return "account:" + digest.hexdigest()[:32]


def no_account_named() -> bool:
    return not submitted_email()


def no_reset_address() -> bool:
    return not reset_email()


def failed_login(response: Response) -> bool:
    return response.status_code in (400, 401)


def signed_in_account() -> str:
    """The signed-in account, so its allowance follows it across networks."""
    return f"user:{current_user.get_id()}"


def refused_form(response: Response) -> bool:
    return response.status_code == 400


@dataclass(frozen=True)
class Rule:
    setting: str  # the config key holding the limits string
    scope: str  # the counter the endpoints share
    endpoints: tuple[str, ...]
    what: str  # for the message: "Too many {what}."
    advice: tuple[str, str] = ("", "")  # said after the wait: on a page, in the API
    key: Callable[[], str] = client_address
    exempt_when: Callable[[], bool] | None = None
    deduct_when: Callable[[Response], bool] | None = None  # None: every POST counts


RULES = (
    Rule("RATELIMIT_LOGIN", "login", LOGIN_ENDPOINTS, "log-in attempts from your network"),
    Rule(
        "RATELIMIT_LOGIN_PER_ACCOUNT",
        "login-account",
        LOGIN_ENDPOINTS,
        "failed log-ins for this e-mail address",
        advice=(
            "Forgot your password? Ask for a link to reset it.",
            f"Forgot the password? POST {URL_PREFIX}/password-reset e-mails a link to reset it.",
        ),
        key=account_key,
        exempt_when=no_account_named,
        deduct_when=failed_login,
    ),
    Rule("RATELIMIT_SIGNUP", "signup", ("site.signup", "users.create_user"), "sign-ups from your network"),
    Rule("RATELIMIT_CHECKOUT", "checkout", ("site.checkout", "purchases.create_purchase"), "orders from your network"),
    Rule("RATELIMIT_PASSWORD_RESET", "password-reset", RESET_ENDPOINTS, "password reset requests from your network"),
    Rule(
        "RATELIMIT_PASSWORD_RESET_PER_ACCOUNT",
        "password-reset-account",
        RESET_ENDPOINTS,
        "password reset requests for this e-mail address",
        key=reset_account_key,
        exempt_when=no_reset_address,
    ),
    Rule(
        "RATELIMIT_ACCOUNT_PASSWORD",
        "account-password",
        ACCOUNT_PASSWORD_ENDPOINTS,
        "refused changes on your account page",
        key=signed_in_account,
        deduct_when=refused_form,
    ),
)


def wait_phrase(seconds: int) -> str:
    """The wait in words, rounded up to what a person would say: "20 seconds", "1 minute", "2 hours"."""
    if seconds < 30:
        return _counted(seconds, "second")
    if seconds < 3600:
        return _counted(math.ceil(seconds / 60), "minute")
    return _counted(math.ceil(seconds / 3600), "hour")


def _counted(amount: int, unit: str) -> str:
    return f"{amount} {unit}{'s' if amount != 1 else ''}"


def retry_after_seconds(limiter: Limiter) -> int:
    """Seconds until the breached limit lets a request through again (at least 1)."""
    limit = limiter.current_limit
    assert limit is not None  # only asked while answering a breached limit
    try:
        reset_time = limit.window.reset_time  # not `reset_at`, which adds a second
    except Exception:  # the storage failed while reading the window: wait a whole one
        return int(limit.limit.get_expiry())
    return max(1, math.ceil(reset_time - time.time()))


def breach_message(limiter: Limiter, what: str, advice: tuple[str, str] = ("", "")) -> Callable[[], str]:
    """The 429's message; it also keeps the wait for Retry-After (one read of the window)."""

    def message() -> str:
        g.rate_limit_retry_after = seconds = retry_after_seconds(limiter)
        said = advice[1] if request.path.startswith(URL_PREFIX) else advice[0]
        return f"Too many {what}. Try again in {wait_phrase(seconds)}." + (f" {said}" if said else "")

    return message


def add_retry_after(response: Response) -> Response:
    seconds = g.pop("rate_limit_retry_after", None)  # popped: tests can share one app context between requests
    if response.status_code == 429 and seconds:
        response.headers.setdefault("Retry-After", str(seconds))
    return response


def capped_storage_options(config) -> dict:
    """The Redis storage's options with one blocking pool of RATELIMIT_REDIS_MAX_CONNECTIONS per process.

    Without it limits' RedisStorage opens a connection per thread that checks a
    limit at once, and Heroku's small Redis plans count every one. `connection_pool`
    is RedisStorage's documented option; the timeouts and TLS go to the pool.
    """
    options = dict(config.get("RATELIMIT_STORAGE_OPTIONS") or {})
    uri = config.get("RATELIMIT_STORAGE_URI") or ""
    if not uri.startswith(("redis://", "rediss://")) or "connection_pool" in options:
        return options
    import redis

    cap, wait = config.get("RATELIMIT_REDIS_MAX_CONNECTIONS", 1), options.get("socket_timeout") or 1
    pool = redis.BlockingConnectionPool.from_url(uri, max_connections=cap, timeout=wait, **options)
    return {"connection_pool": pool}


def init_rate_limits(app: Flask) -> Limiter | None:
    """Bind a Limiter to `app` and attach RULES to their views; nothing at all when disabled."""
    config = app.config
    config.setdefault("RATELIMIT_ENABLED", True)
    if not config["RATELIMIT_ENABLED"]:
        return None
    # A moving window: no double burst at a window's edge, and an exact Retry-After.
    config.setdefault("RATELIMIT_STRATEGY", "moving-window")
    config.setdefault("RATELIMIT_KEY_PREFIX", "blasto")
    config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    config.setdefault("RATELIMIT_HEADERS_ENABLED", False)  # Retry-After on a 429 is added below
    config["RATELIMIT_STORAGE_OPTIONS"] = capped_storage_options(config)
    limiter = Limiter(client_address)
    limiter.init_app(app)
    for rule in RULES:
        limit = limiter.shared_limit(
            config[rule.setting],
            scope=rule.scope,
            key_func=rule.key,
            methods=["POST"],
            exempt_when=rule.exempt_when,
            deduct_when=rule.deduct_when,
            error_message=breach_message(limiter, rule.what, rule.advice),
        )
        for endpoint in rule.endpoints:
            app.view_functions[endpoint] = cast(
                RouteCallable, limit(app.view_functions[endpoint])
            )  # the decorator keeps a sync view sync
    app.after_request(add_retry_after)
    app.extensions[EXTENSION_KEY] = limiter
    return limiter
