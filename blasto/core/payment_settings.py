"""Payment settings: Stripe when its three keys are set, manual payment (bank transfer, cash) when none is,
and for both how long an unpaid order holds its stock (PAYMENT_TIMEOUT) and what the shopper is told.

Half a configuration is refused at start, naming what is missing: a shop that
shows a card form it cannot charge, or charges cards without hearing back
(no webhook secret), would take orders it cannot settle. Test and live keys
are never mixed. `STRIPE_API_BASE` and `STRIPE_JS_URL` point the SDK and the
page at a stand-in server (the tests' localstripe); production leaves them unset.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from blasto.core.env import ConfigError

MANUAL, STRIPE = "manual", "stripe"
KEYS = ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET")
PREFIXES = {
    "STRIPE_SECRET_KEY": ("sk_test_", "sk_live_", "rk_test_", "rk_live_"),  # a restricted key (rk_) serves too
    "STRIPE_PUBLISHABLE_KEY": ("pk_test_", "pk_live_"),
    "STRIPE_WEBHOOK_SECRET": ("whsec_",),
}
API_BASE = "https://api.stripe.com"
JS_URL = "https://js.stripe.com/v3/"


@dataclass(frozen=True)
class StripeSettings:
    secret_key: str = field(repr=False)
    publishable_key: str
    webhook_secret: str = field(repr=False)
    api_base: str = API_BASE
    js_url: str = JS_URL

    @property
    def live(self) -> bool:
        return "_live_" in self.secret_key

    @property
    def js_origin(self) -> str:
        """The origin the page loads Stripe.js from and lets it frame (the CSP names it)."""
        parts = urlsplit(self.js_url)
        return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class PaymentSettings:
    method: str  # MANUAL or STRIPE
    stripe: StripeSettings | None = None


def payment_settings(env: Mapping[str, str]) -> PaymentSettings:
    """Stripe with all three keys, manual with none; anything between is a ConfigError naming the first missing key."""
    values = {name: env.get(name, "").strip() for name in KEYS}
    given = [name for name in KEYS if values[name]]
    if not given:
        return PaymentSettings(MANUAL)
    missing = [name for name in KEYS if not values[name]]
    if missing:
        raise ConfigError(
            missing[0],
            f"is not set, but {' and '.join(given)} {'is' if len(given) == 1 else 'are'} set: card payments need all "
            f"three of {', '.join(KEYS)} (from the Stripe dashboard), or none of them for manual payment",
        )
    for name in KEYS:
        if not values[name].startswith(PREFIXES[name]):
            shown = values[name][:8] + "..." if name == "STRIPE_PUBLISHABLE_KEY" else "this value"
            raise ConfigError(name, f"must start with {' or '.join(PREFIXES[name])}, not {shown}")
    secret_live, publishable_live = (
        "_live_" in values["STRIPE_SECRET_KEY"],
        "_live_" in values["STRIPE_PUBLISHABLE_KEY"],
    )
    if secret_live != publishable_live:
        raise ConfigError(
            "STRIPE_PUBLISHABLE_KEY",
            f"is a {'live' if publishable_live else 'test'} key but STRIPE_SECRET_KEY is a "
            f"{'live' if secret_live else 'test'} key: use both from the same mode of the Stripe dashboard",
        )
    return PaymentSettings(
        STRIPE,
        StripeSettings(
            secret_key=values["STRIPE_SECRET_KEY"],
            publishable_key=values["STRIPE_PUBLISHABLE_KEY"],
            webhook_secret=values["STRIPE_WEBHOOK_SECRET"],
            api_base=_http_url(env, "STRIPE_API_BASE", API_BASE).rstrip("/"),
            js_url=_http_url(env, "STRIPE_JS_URL", JS_URL),
        ),
    )


def _http_url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(name, f"must be an http(s) URL, not {value!r} (leave it unset for Stripe itself)")
    return value


# Manual payment (no provider): how long an unpaid order holds its stock, and what the shopper is told.
DEFAULT_PAYMENT_TIMEOUT = "3d"  # a bank transfer takes a working day or two
PAYMENT_TIMEOUT_MIN_SECONDS, PAYMENT_TIMEOUT_MAX_SECONDS = 1, 90 * 24 * 3600
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 24 * 3600}
DEFAULT_PAYMENT_INSTRUCTIONS = (
    "Please pay {total} by bank transfer, with “Blasto order {order}” as the reference. "
    "We hold your books until {deadline} and send them as soon as the payment is in."
)
PAYMENT_INSTRUCTIONS_FIELDS = ("order", "total", "deadline")
PAYMENT_INSTRUCTIONS_MAX = 2000


def payment_config(env: Mapping[str, str]) -> dict[str, Any]:
    """PAYMENT_TIMEOUT (in seconds) and PAYMENT_INSTRUCTIONS, checked now rather than at the first order."""
    return {
        "PAYMENT_TIMEOUT_SECONDS": payment_timeout(env.get("PAYMENT_TIMEOUT")),
        "PAYMENT_INSTRUCTIONS": payment_instructions(env.get("PAYMENT_INSTRUCTIONS")),
    }


def payment_timeout(value: str | None) -> int:
    """A duration: a whole number and a unit, s, m, h or d ("3d", "36h", "90m"); default 3d."""
    text = (value or "").strip().lower() or DEFAULT_PAYMENT_TIMEOUT
    match = re.fullmatch(r"([0-9]{1,9})\s*([smhd])", text)
    if match is None:
        raise ConfigError(
            "PAYMENT_TIMEOUT", f"must be a whole number and a unit (s, m, h or d), like 3d or 36h, not {text!r}"
        )
    seconds = int(match[1]) * DURATION_UNITS[match[2]]
    if not PAYMENT_TIMEOUT_MIN_SECONDS <= seconds <= PAYMENT_TIMEOUT_MAX_SECONDS:
        raise ConfigError("PAYMENT_TIMEOUT", f"must be from 1s to 90d, not {text!r}")
    return seconds


def payment_instructions(value: str | None) -> str:
    """What a shopper is told to do to pay; may name {order}, {total} and {deadline}, filled in per order."""
    text = (value or "").strip() or DEFAULT_PAYMENT_INSTRUCTIONS
    if len(text) > PAYMENT_INSTRUCTIONS_MAX:
        raise ConfigError("PAYMENT_INSTRUCTIONS", f"must be at most {PAYMENT_INSTRUCTIONS_MAX} characters")
    if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text):
        raise ConfigError("PAYMENT_INSTRUCTIONS", "must not contain control characters")
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(text)]
    except ValueError as exc:
        raise ConfigError(
            "PAYMENT_INSTRUCTIONS", f"has a stray brace ({exc}); write {{{{ and }}}} for literal braces"
        ) from None
    for name, spec, conversion in fields:
        if name is not None and (name not in PAYMENT_INSTRUCTIONS_FIELDS or spec or conversion):
            raise ConfigError(
                "PAYMENT_INSTRUCTIONS",
                f"may name only {{order}}, {{total}} and {{deadline}} (no formats), not {{{name}}}",
            )
    return text
