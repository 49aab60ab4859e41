"""The card sweep's settings: defaults that leave the webhooks time to work, and a named ConfigError on bad values."""

import pytest

from blasto.core.config import load_config
from blasto.core.env import ConfigError

GOOD_KEY = "k" * 16 + "0123456789abcdef"


def config(tmp_path, **env):
    return load_config({"SECRET_KEY": GOOD_KEY, **env}, instance_path=tmp_path)


def test_the_defaults_sweep_every_15_s_and_wait_a_minute_for_events_and_five_for_orders(tmp_path):
    cfg = config(tmp_path)
    assert (cfg["CARD_EVENT_RETRY_AFTER_SECONDS"], cfg["CARD_RECONCILE_AFTER_SECONDS"]) == (60.0, 300.0)
    entry = cfg["CELERY"]["beat_schedule"]["card-payments-sweep"]
    assert entry == {"task": "blasto.cards.sweep", "schedule": 15.0}
    assert "blasto.shop.card_tasks" in cfg["CELERY"]["imports"]


def test_a_shop_sets_its_own(tmp_path):
    cfg = config(
        tmp_path, CARD_SWEEP_EVERY_SECONDS="30", CARD_EVENT_RETRY_AFTER_SECONDS="5", CARD_RECONCILE_AFTER_SECONDS="120"
    )
    assert cfg["CELERY"]["beat_schedule"]["card-payments-sweep"]["schedule"] == 30.0
    assert (cfg["CARD_EVENT_RETRY_AFTER_SECONDS"], cfg["CARD_RECONCILE_AFTER_SECONDS"]) == (5.0, 120.0)


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("CARD_SWEEP_EVERY_SECONDS", "often", "must be a number"),
        ("CARD_SWEEP_EVERY_SECONDS", "0", "between"),
        ("CARD_EVENT_RETRY_AFTER_SECONDS", "-1", "between"),
        ("CARD_RECONCILE_AFTER_SECONDS", "5m", "must be a number"),
        ("CARD_RECONCILE_AFTER_SECONDS", "999999", "between"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(tmp_path, variable, value, says):
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, **{variable: value})
    assert caught.value.variable == variable and says in str(caught.value)
