"""Shipping settings: a clear format, a named ConfigError on bad values, and sensible defaults."""

import pytest

from blasto.core.env import ConfigError
from blasto.core.shipping_settings import ShippingOption, shipping_settings


def test_the_defaults_offer_standard_and_express_to_a_few_countries():
    settings = shipping_settings({})
    assert settings.options == (ShippingOption("standard", 499), ShippingOption("express", 1499))
    assert settings.free_over_cents == 5000
    assert settings.countries == ("US", "CA", "GB", "IE", "FR", "DE", "NL")


def test_a_shop_sets_its_own_options_threshold_and_countries():
    settings = shipping_settings(
        {
            "SHIPPING_OPTIONS": " post:300 , courier:2500,next_day:4000",
            "FREE_SHIPPING_OVER_CENTS": "0",
            "SHIP_TO_COUNTRIES": "ie, gb",
        }
    )
    assert [option.name for option in settings.options] == ["post", "courier", "next_day"]
    assert settings.options[2].label == "Next day"
    assert settings.free_over_cents == 0 and settings.countries == ("IE", "GB")


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("SHIPPING_OPTIONS", "standard=499", "name:cents pairs"),
        ("SHIPPING_OPTIONS", "standard:4.99", "name:cents pairs"),
        ("SHIPPING_OPTIONS", "standard:-1", "name:cents pairs"),
        ("SHIPPING_OPTIONS", "Standard:499", "name:cents pairs"),
        ("SHIPPING_OPTIONS", "standard:499,standard:999", "twice"),
        ("SHIPPING_OPTIONS", "standard:99999999", "at most"),
        ("SHIPPING_OPTIONS", "standard:١٢", "name:cents pairs"),  # digits, but not ASCII ones
        ("FREE_SHIPPING_OVER_CENTS", "fifty", "must be a whole number"),
        ("FREE_SHIPPING_OVER_CENTS", "-5", "between"),
        ("SHIP_TO_COUNTRIES", "IE,XX", "XX"),
        ("SHIP_TO_COUNTRIES", "Ireland", "IRELAND"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_is_wrong(variable, value, says):
    with pytest.raises(ConfigError) as caught:
        shipping_settings({variable: value})
    assert caught.value.variable == variable and says in str(caught.value)
