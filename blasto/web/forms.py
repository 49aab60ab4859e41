"""Form pieces every channel's forms share: whole-number fields, filters, the CSRF-only form.

Quantities and ids are integers checked against the bounds the cart and the
database use, so bad input becomes a field error, never a 500.
"""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import StopValidation


class WholeNumberField(IntegerField):
    """An integer field that takes only plain ASCII digits (no `1_000`, no `1e3`).

    A value that is not a whole number gets one clear error, without the
    range checks piling on; a blank value is left to InputRequired.
    """

    _PATTERN = re.compile(r"^-?[0-9]{1,12}$")

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        text = valuelist[0].strip()
        if not self._PATTERN.match(text):
            self.data = None
            raise ValueError("Enter a whole number.")
        self.data = int(text)

    def pre_validate(self, form):
        if self.process_errors:
            raise StopValidation()


def normalise_email(value: str | None) -> str | None:
    return value.strip().lower() if isinstance(value, str) else value


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


# Postgres refuses NUL in text (a 500 if it got that far), and no control
# character belongs in a name or an e-mail address.
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"


class CsrfOnlyForm(FlaskForm):
    """Nothing but the CSRF token: for buttons that change state (so they POST)."""
