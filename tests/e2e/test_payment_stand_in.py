"""The Stripe SDK we lock speaks with the localstripe we lock, for the flow the shop's card payments use.

The payment tests stand on this pairing (tests.support.payment_stand_in); a lock
bump that breaks it fails here, with the step that broke, rather than deep inside
a checkout test.
"""

from __future__ import annotations

import pytest
import stripe

from tests.support.card_orders import CapturedWebhooks
from tests.support.payment_stand_in import SECRET_KEY
from tests.support.processes import wait_for

pytestmark = pytest.mark.processes

WEBHOOK_SECRET = "whsec_blasto_tests"


@pytest.fixture
def receiver():
    with CapturedWebhooks() as server:
        yield server


def test_a_card_payment_succeeds_is_signed_to_the_webhook_and_refunds(stand_in, receiver):
    stand_in.register_webhook(receiver.url, WEBHOOK_SECRET)
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": stand_in.api_base})

    intent = client.v1.payment_intents.create(
        params={"amount": 2398, "currency": "usd", "payment_method_types": ["card"], "metadata": {"order": "7"}},
        options={"idempotency_key": "order-7-payment"},
    )
    assert intent.status == "requires_payment_method"
    assert intent.client_secret.startswith(f"{intent.id}_secret_")

    card = stand_in.card_token()["card"]["id"]  # what the browser's Stripe.js hands over: an id, no number
    client.v1.payment_intents.update(intent.id, params={"payment_method": card})
    confirmed = client.v1.payment_intents.confirm(intent.id)
    assert confirmed.status == "succeeded"

    settled = client.v1.payment_intents.retrieve(intent.id)
    assert (settled.status, settled.amount, settled.currency, settled.metadata["order"]) == (
        "succeeded",
        2398,
        "usd",
        "7",
    )

    [(payload, signature)] = wait_for(lambda: receiver.received, 30, what="the payment_intent.succeeded webhook")
    event = client.construct_event(payload, signature, WEBHOOK_SECRET)
    assert (event.type, event.data.object.id) == ("payment_intent.succeeded", intent.id)
    with pytest.raises(stripe.SignatureVerificationError):
        client.construct_event(payload, signature, "whsec_someone_else")
    with pytest.raises(stripe.SignatureVerificationError):
        client.construct_event(payload.replace(b"2398", b"1"), signature, WEBHOOK_SECRET)

    refund = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1000})
    assert (refund.status, refund.amount) == ("succeeded", 1000)


def test_a_declined_card_is_a_card_error_with_the_decline_code(stand_in):
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": stand_in.api_base})
    intent = client.v1.payment_intents.create(
        params={"amount": 500, "currency": "usd", "payment_method_types": ["card"]}
    )
    declined = stand_in.card_token("4000000000000341")["card"]["id"]  # attaches, then the charge is declined
    client.v1.payment_intents.update(intent.id, params={"payment_method": declined})
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.confirm(intent.id)
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_payment_method"
