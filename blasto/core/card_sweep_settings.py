"""How the clock catches what Stripe's webhooks missed: how often it looks, and how long it waits first.

A webhook stored while the broker was down has no task to apply it; an order
whose webhook never came stays awaiting payment although Stripe took the
money. The card sweep (blasto.shop.card_tasks) finds both. Waiting a little
before it steps in leaves the ordinary path (webhook -> worker, about a second)
to do the work, so Stripe is asked only about what is really late.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from blasto.core.env import env_float

CARD_SWEEP_ENTRY = "card-payments-sweep"  # its name in the beat schedule (and in /readyz)
DEFAULT_SWEEP_EVERY_SECONDS = 15.0  # like the other sweeps: /readyz waits for each to have run once
DEFAULT_EVENT_RETRY_AFTER_SECONDS = 60.0
DEFAULT_RECONCILE_AFTER_SECONDS = 300.0
MAX_SECONDS = 24 * 3600.0


def card_sweep_every_seconds(env: Mapping[str, str]) -> float:
    """CARD_SWEEP_EVERY_SECONDS: the beat schedule's period for the card sweep."""
    return env_float(env, "CARD_SWEEP_EVERY_SECONDS", DEFAULT_SWEEP_EVERY_SECONDS, minimum=0.1, maximum=3600.0)


def card_sweep_config(env: Mapping[str, str]) -> dict[str, Any]:
    """CARD_EVENT_RETRY_AFTER_SECONDS and CARD_RECONCILE_AFTER_SECONDS, checked at start like every setting."""
    return {
        # A stored event this long unapplied lost its task (broker down, worker killed): the sweep applies it.
        "CARD_EVENT_RETRY_AFTER_SECONDS": env_float(
            env, "CARD_EVENT_RETRY_AFTER_SECONDS", DEFAULT_EVENT_RETRY_AFTER_SECONDS, minimum=0.0, maximum=MAX_SECONDS
        ),
        # A card order this old and still awaiting payment: the sweep asks Stripe about its PaymentIntent.
        "CARD_RECONCILE_AFTER_SECONDS": env_float(
            env, "CARD_RECONCILE_AFTER_SECONDS", DEFAULT_RECONCILE_AFTER_SECONDS, minimum=0.0, maximum=MAX_SECONDS
        ),
    }
