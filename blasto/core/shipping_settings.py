"""Shipping settings: the options a shopper picks from, when standard is free, and where the shop ships.

`SHIPPING_OPTIONS` is `name:cents` pairs separated by commas (the first is the
standard one, free from `FREE_SHIPPING_OVER_CENTS` on); `SHIP_TO_COUNTRIES`
lists ISO 3166-1 alpha-2 codes. A bad value stops the start with a
ConfigError naming the variable, rather than pricing an order wrongly later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from blasto.core.env import ConfigError, env_int

DEFAULT_OPTIONS = "standard:499,express:1499"
DEFAULT_FREE_OVER_CENTS = 5000
DEFAULT_COUNTRIES = "US,CA,GB,IE,FR,DE,NL"
MAX_SHIPPING_CENTS = 100_000
MAX_OPTIONS = 10
OPTION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,19}$")
OPTION_MAX = 20

# The countries a shop may name in SHIP_TO_COUNTRIES, with the name a shopper reads.
COUNTRY_NAMES = {
    "AT": "Austria",
    "AU": "Australia",
    "BE": "Belgium",
    "CA": "Canada",
    "CH": "Switzerland",
    "CZ": "Czechia",
    "DE": "Germany",
    "DK": "Denmark",
    "ES": "Spain",
    "FI": "Finland",
    "FR": "France",
    "GB": "United Kingdom",
    "GR": "Greece",
    "IE": "Ireland",
    "IS": "Iceland",
    "IT": "Italy",
    "JP": "Japan",
    "LU": "Luxembourg",
    "MX": "Mexico",
    "NL": "Netherlands",
    "NO": "Norway",
    "NZ": "New Zealand",
    "PL": "Poland",
    "PT": "Portugal",
    "SE": "Sweden",
    "US": "United States",
}


@dataclass(frozen=True)
class ShippingOption:
    name: str
    cents: int

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()


@dataclass(frozen=True)
class ShippingSettings:
    options: tuple[ShippingOption, ...]
    free_over_cents: int
    countries: tuple[str, ...]


def shipping_settings(env: Mapping[str, str]) -> ShippingSettings:
    """SHIPPING_OPTIONS, FREE_SHIPPING_OVER_CENTS and SHIP_TO_COUNTRIES, checked now rather than at the first order."""
    return ShippingSettings(
        options=shipping_options(env.get("SHIPPING_OPTIONS")),
        free_over_cents=env_int(env, "FREE_SHIPPING_OVER_CENTS", DEFAULT_FREE_OVER_CENTS, 0, 100_000_000),
        countries=ship_to_countries(env.get("SHIP_TO_COUNTRIES")),
    )


def shipping_options(value: str | None) -> tuple[ShippingOption, ...]:
    text = (value or "").strip() or DEFAULT_OPTIONS
    options: list[ShippingOption] = []
    for part in text.split(","):
        name, colon, cents = part.strip().partition(":")
        name, cents = name.strip(), cents.strip()
        if not colon or not OPTION_NAME.match(name) or not cents.isascii() or not cents.isdigit():
            raise ConfigError(
                "SHIPPING_OPTIONS",
                f"must be name:cents pairs separated by commas, like {DEFAULT_OPTIONS} (names in lower case), "
                f"not {part.strip()!r}",
            )
        if int(cents) > MAX_SHIPPING_CENTS:
            raise ConfigError("SHIPPING_OPTIONS", f"prices at most {MAX_SHIPPING_CENTS} cents, not {part.strip()!r}")
        if any(option.name == name for option in options):
            raise ConfigError("SHIPPING_OPTIONS", f"names {name!r} twice")
        options.append(ShippingOption(name, int(cents)))
    if len(options) > MAX_OPTIONS:
        raise ConfigError("SHIPPING_OPTIONS", f"offers at most {MAX_OPTIONS} options")
    return tuple(options)


def ship_to_countries(value: str | None) -> tuple[str, ...]:
    text = (value or "").strip() or DEFAULT_COUNTRIES
    codes = [code.strip().upper() for code in text.split(",") if code.strip()]
    unknown = [code for code in codes if code not in COUNTRY_NAMES]
    if unknown or not codes:
        raise ConfigError(
            "SHIP_TO_COUNTRIES",
            f"must be ISO 3166-1 alpha-2 codes separated by commas from {', '.join(COUNTRY_NAMES)}, "
            f"not {', '.join(unknown) or repr(text)}",
        )
    return tuple(dict.fromkeys(codes))
