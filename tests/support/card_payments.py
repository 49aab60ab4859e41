"""Card payments against localstripe (tests.support.payment_stand_in): the settings, and the steps a browser's
Stripe.js would take (3-D Secure), driven over HTTP the way localstripe's own Stripe.js does."""

from __future__ import annotations

import requests

from blasto.core.payment_settings import PaymentSettings, payment_settings
from tests.support.payment_stand_in import PUBLISHABLE_KEY, SECRET_KEY, PaymentStandIn

WEBHOOK_SECRET = "whsec_blasto_card_tests"
GOOD_CARD, THREE_D_SECURE_CARD, DECLINED_CARD = "4242424242424242", "4000002500003155", "4000000000000341"


def stripe_env(api_base: str) -> dict[str, str]:
    """The STRIPE_* environment that points the app (SDK and page) at a stand-in's address."""
    return {
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": api_base,
        "STRIPE_JS_URL": f"{api_base}/js.stripe.com/v3/",
    }


def stripe_settings(api_base: str) -> PaymentSettings:
    """Card payments on, through the stand-in at `api_base`."""
    return payment_settings(stripe_env(api_base))


def card_id(stand_in: PaymentStandIn, number: str = GOOD_CARD) -> str:
    """What the page posts after Stripe.js's createToken: the token's card id."""
    return stand_in.card_token(number)["card"]["id"]


def authenticate(stand_in: PaymentStandIn, client_secret: str, success: bool) -> dict:
    """The bank's 3-D Secure answer, as localstripe's confirmCardPayment sends it from the page."""
    intent_id = client_secret.split("_secret_")[0]
    response = requests.post(
        f"{stand_in.api_base}/v1/payment_intents/{intent_id}/_authenticate?success={str(success).lower()}",
        json={"key": PUBLISHABLE_KEY, "client_secret": client_secret},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()


def intents_for(stand_in: PaymentStandIn, purchase_id: int) -> list[dict]:
    """Every PaymentIntent localstripe holds for the order (by its metadata)."""
    response = requests.get(
        f"{stand_in.api_base}/v1/payment_intents",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
        timeout=5,
    )
    response.raise_for_status()
    return [pi for pi in response.json()["data"] if pi["metadata"].get("purchase_id") == str(purchase_id)]


def intent(stand_in: PaymentStandIn, intent_id: str) -> dict:
    response = requests.get(
        f"{stand_in.api_base}/v1/payment_intents/{intent_id}",
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()
