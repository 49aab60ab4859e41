"""Stripe with its three keys, manual payment with none, and a clear refusal of anything between."""

from __future__ import annotations

import pytest

from blasto.core.env import ConfigError
from blasto.core.payment_settings import KEYS, MANUAL, STRIPE, payment_settings
from blasto.deploy_check.environment import config_errors, payment_notes
from blasto.deploy_check.report import Report
from blasto.web.security_headers import content_security_policy

TEST_KEYS = {
    "STRIPE_SECRET_KEY": "sk_test_51Hsecretpartdonotshow",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_51Hpublishable",
    "STRIPE_WEBHOOK_SECRET": "whsec_secretpartdonotshow",
}


def test_no_stripe_key_is_manual_payment():
    assert payment_settings({}).method == MANUAL
    assert payment_settings(dict.fromkeys(KEYS, "  ")).stripe is None  # `heroku config:set X=` leaves it empty


def test_all_three_keys_are_card_payments_through_stripe_itself():
    settings = payment_settings(TEST_KEYS)
    assert settings.method == STRIPE and settings.stripe is not None
    assert (settings.stripe.api_base, settings.stripe.js_url) == ("https://api.stripe.com", "https://js.stripe.com/v3/")
    assert not settings.stripe.live
    assert "secretpart" not in repr(settings)  # a settings object in a log line shows no secret


@pytest.mark.parametrize("missing", KEYS)
def test_a_half_configured_stripe_names_what_is_missing_and_shows_no_secret(missing):
    env = {name: value for name, value in TEST_KEYS.items() if name != missing}
    with pytest.raises(ConfigError) as raised:
        payment_settings(env)
    assert raised.value.variable == missing
    assert all(f"{name}" in str(raised.value) for name in env)  # says what is set, so the fix is plain
    assert "none of them for manual payment" in str(raised.value)
    assert "secretpart" not in str(raised.value)


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("STRIPE_SECRET_KEY", "pk_test_swapped", "must start with sk_test_"),
        ("STRIPE_PUBLISHABLE_KEY", "sk_test_swapped", "must start with pk_test_ or pk_live_, not sk_test_..."),
        ("STRIPE_WEBHOOK_SECRET", "we_1Habc", "must start with whsec_"),
        ("STRIPE_PUBLISHABLE_KEY", "pk_live_51H", "is a live key but STRIPE_SECRET_KEY is a test key"),
        ("STRIPE_API_BASE", "localhost:12111", "must be an http(s) URL"),
    ],
)
def test_a_wrong_key_is_named_with_what_it_should_be(name, value, said):
    with pytest.raises(ConfigError) as raised:
        payment_settings({**TEST_KEYS, name: value})
    assert raised.value.variable == name and said in str(raised.value)
    assert "secretpart" not in str(raised.value)


def test_a_stand_in_server_is_where_the_sdk_and_the_page_go():
    settings = payment_settings(
        {
            **TEST_KEYS,
            "STRIPE_API_BASE": "http://127.0.0.1:8420/",
            "STRIPE_JS_URL": "http://127.0.0.1:8420/js.stripe.com/v3/",
        }
    ).stripe
    assert settings is not None
    assert (settings.api_base, settings.js_origin) == ("http://127.0.0.1:8420", "http://127.0.0.1:8420")


def test_the_policy_admits_stripe_only_when_stripe_is_on():
    manual = content_security_policy(None)
    assert "stripe" not in manual and "frame-src" not in manual and "connect-src" not in manual
    policy = dict(
        part.split(" ", 1) for part in content_security_policy(payment_settings(TEST_KEYS).stripe).split("; ")
    )
    assert policy["script-src"] == "'self' https://js.stripe.com"
    assert policy["frame-src"] == "https://js.stripe.com https://hooks.stripe.com"
    assert policy["connect-src"] == "'self' https://api.stripe.com"
    assert policy["frame-ancestors"] == "'none'" and policy["style-src"] == "'self'"  # the rest is as strict as ever


def test_pages_carry_the_stripe_policy_when_the_app_has_stripe_keys(app_factory):
    client = app_factory(PAYMENTS=payment_settings(TEST_KEYS)).test_client()
    assert "https://js.stripe.com" in client.get("/healthz").headers["Content-Security-Policy"]
    assert "stripe" not in app_factory().test_client().get("/healthz").headers["Content-Security-Policy"]


def test_flask_check_reports_a_half_configured_stripe_and_still_checks_the_rest():
    env = {
        "STRIPE_SECRET_KEY": TEST_KEYS["STRIPE_SECRET_KEY"],
        "SECRET_KEY": "changeme",
        "DATABASE_URL": "postgres://u:p@db.example.com:5432/blasto",
        "REDIS_URL": "redis://redis.example.com:6379",
    }
    named = {error.variable: str(error) for error in config_errors(env)}
    assert "STRIPE_PUBLISHABLE_KEY" in named and "STRIPE_SECRET_KEY is set" in named["STRIPE_PUBLISHABLE_KEY"]
    assert "SECRET_KEY" in named  # the other problem is reported too, not hidden behind the first


def _notes(env: dict) -> list[str]:
    report = Report()
    payment_notes(report, env)
    return report.notes


def test_flask_check_notes_manual_payment_with_instructions_that_name_no_account():
    [note] = _notes({})
    assert "PAYMENT_INSTRUCTIONS is the default" in note and "heroku config:set PAYMENT_INSTRUCTIONS=" in note
    assert _notes({"PAYMENT_INSTRUCTIONS": "Pay {total} to IBAN GB00 0000, reference {order}."}) == []
    assert _notes(TEST_KEYS) == []  # card payments: the instructions are not what shoppers meet
