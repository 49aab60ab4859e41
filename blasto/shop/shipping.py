"""Where an order goes and what shipping costs: the address rules, the options, the shopper's saved addresses.

One set of rules serves the site's form and the API's body, so both refuse
the same input with the same words. Prices come from the settings
(blasto.core.shipping_settings), never from the request: the standard option
is free from FREE_SHIPPING_OVER_CENTS on. A shopper keeps up to
MAX_SAVED_ADDRESSES; using one again moves it to the top, a new one past the
cap replaces the one used longest ago.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from flask import current_app
from sqlalchemy import delete, select

from blasto.core.extensions import db
from blasto.core.shipping_settings import COUNTRY_NAMES, ShippingOption, ShippingSettings
from blasto.models import SavedAddress
from blasto.models.address import ADDRESS_FIELDS, CITY_MAX, LINE_MAX, POSTAL_CODE_MAX, RECIPIENT_MAX
from blasto.models.base import utcnow
from blasto.shop.orders import CONTROL_CHARACTERS

MAX_SAVED_ADDRESSES = 10
LIMITS = {"name": RECIPIENT_MAX, "line1": LINE_MAX, "line2": LINE_MAX, "city": CITY_MAX, "postal_code": POSTAL_CODE_MAX}
REQUIRED = ("name", "line1", "city", "postal_code", "country")
LABELS = {
    "name": "the recipient's name",
    "line1": "the street address",
    "city": "the city",
    "postal_code": "the postal code",
    "country": "the country",
}
# Loose shapes, to catch a code typed in the wrong box; a country not listed takes any code.
POSTAL_CODES = {
    "US": (re.compile(r"^\d{5}(-\d{4})?$"), "5 digits, or 5+4 like 12345-6789"),
    "CA": (re.compile(r"^[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d$"), "like K1A 0B1"),
    "GB": (re.compile(r"^[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[A-Za-z]{2}$"), "like SW1A 1AA"),
    "FR": (re.compile(r"^\d{5}$"), "5 digits"),
    "DE": (re.compile(r"^\d{5}$"), "5 digits"),
    "NL": (re.compile(r"^\d{4} ?[A-Za-z]{2}$"), "like 1234 AB"),
}


@dataclass(frozen=True)
class Address:
    name: str
    line1: str
    line2: str
    city: str
    postal_code: str
    country: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class AddressError(ValueError):
    """An address that cannot be shipped to; `errors` maps each field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("Please check the shipping address: " + " ".join(errors.values()))


def settings() -> ShippingSettings:
    return current_app.config["SHIPPING"]


def countries() -> list[tuple[str, str]]:
    """(code, name) of every country the shop ships to, in the settings' order."""
    return [(code, COUNTRY_NAMES[code]) for code in settings().countries]


def check_address(values: Mapping[str, object]) -> Address:
    """The address from raw field values, trimmed; raises AddressError naming each bad field."""
    cleaned: dict[str, str] = {}
    errors: dict[str, str] = {}
    for field in ADDRESS_FIELDS:
        raw = values.get(field)
        text = raw.strip() if isinstance(raw, str) else ""
        if raw is not None and not isinstance(raw, str):
            errors[field] = "Must be text."
        elif not text and field in REQUIRED:
            errors[field] = f"Please enter {LABELS[field]}."
        elif field in LIMITS and len(text) > LIMITS[field]:
            errors[field] = f"Use at most {LIMITS[field]} characters."
        elif CONTROL_CHARACTERS.search(text):
            errors[field] = "Remove the control characters (invisible characters pasted from elsewhere)."
        cleaned[field] = text
    country = cleaned["country"].upper()
    if "country" not in errors and country not in settings().countries:
        errors["country"] = f"We ship to {', '.join(name for _, name in countries())}; choose one of those."
    cleaned["country"] = country
    if "postal_code" not in errors and "country" not in errors and country in POSTAL_CODES:
        pattern, shape = POSTAL_CODES[country]
        if not pattern.match(cleaned["postal_code"]):
            where = f"the {COUNTRY_NAMES[country]}" if country in ("US", "GB", "NL") else COUNTRY_NAMES[country]
            errors["postal_code"] = f"A postal code in {where} is {shape}."
    if errors:
        raise AddressError(errors)
    return Address(**cleaned)


class UnknownShippingOption(ValueError):
    def __init__(self, name: object):
        choices = ", ".join(option.name for option in settings().options)
        super().__init__(f"No shipping option {str(name)[:40]!r}; choose one of {choices}.")


def option_named(name: object) -> ShippingOption:
    for option in settings().options:
        if option.name == name:
            return option
    raise UnknownShippingOption(name)


def default_option() -> ShippingOption:
    return settings().options[0]


def shipping_cents(option: ShippingOption, lines_cents: int) -> int:
    """What shipping costs for an order whose lines come to `lines_cents`: standard is free above the threshold."""
    if option == default_option() and lines_cents >= settings().free_over_cents:
        return 0
    return option.cents


def quotes(lines_cents: int) -> list[dict]:
    """Every option with its price and the order's total with it: what the checkout page offers."""
    return [
        {
            "name": option.name,
            "label": option.label,
            "cents": shipping_cents(option, lines_cents),
            "total_cents": lines_cents + shipping_cents(option, lines_cents),
        }
        for option in settings().options
    ]


def saved_addresses(user_id: int) -> list[SavedAddress]:
    """The shopper's addresses, most recently used first."""
    return list(
        db.session.scalars(
            select(SavedAddress)
            .where(SavedAddress.user_id == user_id)
            .order_by(SavedAddress.used_at.desc(), SavedAddress.id.desc())
            .limit(MAX_SAVED_ADDRESSES)
        )
    )


def saved_address(user_id: int, address_id: int) -> Address | None:
    """One of the shopper's own saved addresses (anyone else's is None)."""
    row = db.session.scalar(select(SavedAddress).where(SavedAddress.id == address_id, SavedAddress.user_id == user_id))
    return None if row is None else Address(**{field: getattr(row, field) for field in ADDRESS_FIELDS})


def remember(user_id: int, address: Address) -> None:
    """Keep the address for the shopper's next checkout (in the caller's transaction), within the cap."""
    rows = saved_addresses(user_id)
    for row in rows:
        if all(getattr(row, field) == value for field, value in address.as_dict().items()):
            row.used_at = utcnow()
            return
    db.session.add(SavedAddress(user_id=user_id, used_at=utcnow(), **address.as_dict()))
    stale = [row.id for row in rows[MAX_SAVED_ADDRESSES - 1 :]]
    if stale:
        db.session.execute(delete(SavedAddress).where(SavedAddress.id.in_(stale)))
