"""The admin's forms: books (create, edit, restock) and the purchase filters.

Money is typed as dollars ("12.99", "12", "$1,250.50") and held as integer
cents from the moment it is parsed: no float ever sees it. Every bound is
checked here, so bad input is a field error, never a database error.
"""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)
from wtforms.widgets import HiddenInput

from blasto.models.product import AUTHOR_MAX, FORMATS, PUBLISHER_MAX, STOCK_MAX, TITLE_MAX
from blasto.models.purchase import AWAITING_PAYMENT, CANCELLED, CARRIER_MAX, PAID, REFUNDED, SHIPPED
from blasto.shop.book_details import PAGES_MAX, YEAR_MIN, isbn13_problem, normalise_isbn, year_max
from blasto.shop.cover_images import MAX_BYTES as COVER_MAX_BYTES
from blasto.shop.genres import GENRES
from blasto.shop.money import format_cents, parse_dollars
from blasto.shop.orders import tracking_problem
from blasto.web.forms import WholeNumberField, strip

PRICE_MAX_CENTS = 100_000_00  # $100,000.00: beyond any book, far below INTEGER's limit
TOTAL_MAX_CENTS = 20_000_000_00  # filters: above any possible order total, still an INTEGER
RESTOCK_MAX = 100_000
DESCRIPTION_MAX = 5_000
BOOK_FILTER_MAX = 200
EMAIL_FILTER_MAX = 254

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # a description may have lines and tabs


def no_control_characters(form, field):
    """Postgres refuses NUL in text; no other control character belongs in a book either."""
    pattern = _CONTROL_IN_TEXT if isinstance(field, TextAreaField) else _CONTROL
    if isinstance(field.data, str) and pattern.search(field.data):
        raise ValidationError("Remove the control characters (invisible characters pasted from elsewhere).")


class MoneyField(StringField):
    """Dollars and cents typed as text; `.data` is integer cents (or None when blank).

    Accepts "12.99", "12", "12.5", "$12.99" and "1,250.00"; refuses more than
    two decimals, signs, exponents and anything else with one clear message.
    """

    def process_formdata(self, valuelist):
        text = valuelist[0].strip() if valuelist else ""
        self.data = None
        if text:
            self.data = parse_dollars(text)  # its ValueError is the field's one message

    def pre_validate(self, form):
        if self.process_errors:  # one clear message, without the range checks piling on
            raise StopValidation()

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        dollars, cents = divmod(self.data, 100)
        return f"{dollars}.{cents:02d}"


class CentsRange:
    """Like NumberRange, with the bounds written as money."""

    def __init__(self, low: int, high: int):
        self.low, self.high = low, high

    def __call__(self, form, field):
        if field.data is not None and not self.low <= field.data <= self.high:
            raise ValidationError(f"Enter an amount from {format_cents(self.low)} to {format_cents(self.high)}.")


def _text(label: str, maximum: int, what: str, **kwargs) -> StringField:
    return StringField(
        label,
        filters=[strip],
        validators=[
            DataRequired(f"Please enter the {what}."),
            Length(max=maximum, message=f"Use at most {maximum} characters."),
            no_control_characters,
        ],
        **kwargs,
    )


def _stock(label: str, **kwargs) -> WholeNumberField:
    return WholeNumberField(
        label,
        validators=[
            InputRequired("Please enter the number of copies in stock."),
            NumberRange(0, STOCK_MAX, f"Choose from 0 to {STOCK_MAX:,}."),
        ],
        **kwargs,
    )


def _one_of(choices: dict[str, str], message: str):
    """A select's value must be one of its choices (or blank): one plain sentence otherwise."""

    def check(form, field):
        if field.data and field.data not in choices:
            raise ValidationError(message)

    return check


def _select(label: str, choices: dict[str, str], blank: str, message: str) -> SelectField:
    return SelectField(
        label,
        choices=[SelectChoice("", blank)] + [SelectChoice(key, name) for key, name in choices.items()],
        default="",
        validate_choice=False,  # _one_of says it in words
        validators=[_one_of(choices, message)],
    )


def _year(form, field):
    """Checked when the form is, so next year stays possible after New Year."""
    if field.data is not None and not YEAR_MIN <= field.data <= year_max():
        raise ValidationError(f"Enter the year the book was first published, from {YEAR_MIN} to {year_max()}.")


def _isbn(form, field):
    problem = isbn13_problem(field.data or "")
    if problem:
        raise ValidationError(problem)


def _isbn_digits(value: str | None) -> str | None:
    return normalise_isbn(value) if isinstance(value, str) else value


class BookForm(FlaskForm):
    """A new book: everything, including the copies it starts with. The catalogue details are optional."""

    title = _text("Title", TITLE_MAX, "title")
    author = _text("Author", AUTHOR_MAX, "author")
    description = TextAreaField(
        "Description",
        filters=[strip],
        validators=[
            Optional(),
            Length(max=DESCRIPTION_MAX, message=f"Use at most {DESCRIPTION_MAX:,} characters."),
            no_control_characters,
        ],
    )
    genre = _select("Genre", GENRES, "None yet", "Choose a genre from the list.")
    format = _select("Format", FORMATS, "Not stated", "Choose a format from the list.")
    publisher = StringField(
        "Publisher",
        filters=[strip],
        validators=[
            Optional(),
            Length(max=PUBLISHER_MAX, message=f"Use at most {PUBLISHER_MAX} characters."),
            no_control_characters,
        ],
    )
    year_published = WholeNumberField("Year first published", validators=[Optional(), _year])
    pages = WholeNumberField(
        "Pages", validators=[Optional(), NumberRange(1, PAGES_MAX, f"Enter a number of pages from 1 to {PAGES_MAX:,}.")]
    )
    isbn13 = StringField(
        "ISBN-13",
        description="13 digits, like 978-0-14-143951-8; hyphens and spaces are fine. Leave empty if it has none.",
        filters=[strip, _isbn_digits],
        validators=[Optional(), _isbn],
    )
    price = MoneyField(
        "Price (USD)",
        description="Dollars and cents, like 12.99.",
        validators=[InputRequired("Please enter the price."), CentsRange(0, PRICE_MAX_CENTS)],
    )
    stock = _stock("Copies in stock")
    low_stock_threshold = WholeNumberField(
        "Low-stock alert",
        description="E-mail the admins when a sale leaves fewer copies than this. Leave empty for no alert.",
        validators=[Optional(), NumberRange(1, STOCK_MAX, f"Choose from 1 to {STOCK_MAX:,}, or leave it empty.")],
    )


class EditBookForm(BookForm):
    """An existing book. `stock_seen` is the stock the form was shown with (see blasto.admin.books)."""

    stock_seen = WholeNumberField(widget=HiddenInput(), validators=[InputRequired(), NumberRange(0, STOCK_MAX)])


class CoverForm(FlaskForm):
    """A cover upload. The file is checked by opening it (blasto.shop.cover_images), in the view:
    its name and Content-Type are the sender's claims, never trusted."""

    cover = FileField(
        "Cover image",
        id="cover-file",
        description=f"A JPEG, PNG or WebP image, at most {COVER_MAX_BYTES // 1024 // 1024} MB; shown 2:3 (portrait), cropped to fit.",
    )


class RestockForm(FlaskForm):
    copies = WholeNumberField(
        "Copies to add",
        id="restock-copies",
        validators=[
            InputRequired("Please enter how many copies arrived."),
            NumberRange(1, RESTOCK_MAX, f"Choose from 1 to {RESTOCK_MAX:,}."),
        ],
    )


class VisibilityForm(FlaskForm):
    """Hide or show a book; `next` says where the button was."""

    next = HiddenField()


class OrderMoveForm(FlaskForm):
    """Mark paid, or cancel: a button (the history records who pressed it, and when)."""


def _tracking(form, field):
    problem = tracking_problem(field.data or "")
    if problem:
        raise ValidationError(problem)


class ShipForm(FlaskForm):
    carrier = _text("Carrier", CARRIER_MAX, "carrier", id="ship-carrier")
    tracking_number = StringField("Tracking number", id="ship-tracking", filters=[strip], validators=[_tracking])


# The list's state filter: its value in the URL -> (label, status).
STATE_FILTERS = {
    "to_ship": ("To ship (paid)", PAID),
    "awaiting_payment": ("Awaiting payment", AWAITING_PAYMENT),
    "shipped": ("Shipped", SHIPPED),
    "cancelled": ("Cancelled", CANCELLED),
    "refunded": ("Refunded", REFUNDED),
}


class PurchaseFilterForm(FlaskForm):
    """The purchase list's filters, read from the query string (a GET form: no CSRF, nothing changes)."""

    class Meta:
        csrf = False

    date_from = DateField("From (UTC day)", id="filter-from", validators=[Optional()])
    date_to = DateField("To (UTC day, included)", id="filter-to", validators=[Optional()])
    # Sales by the day the money came in (paid or shipped orders): the dashboard's links.
    paid_from = DateField("Paid from (UTC day)", id="filter-paid-from", validators=[Optional()])
    paid_to = DateField("Paid to (UTC day, included)", id="filter-paid-to", validators=[Optional()])
    email = StringField(
        "Customer e-mail contains",
        id="filter-email",
        filters=[strip],
        validators=[
            Optional(),
            Length(max=EMAIL_FILTER_MAX, message=f"Use at most {EMAIL_FILTER_MAX} characters."),
            no_control_characters,
        ],
    )
    book = StringField(
        "Book (title or id)",
        id="filter-book",
        description="Part of a title, or a book id like 12 or #12.",
        filters=[strip],
        validators=[
            Optional(),
            Length(max=BOOK_FILTER_MAX, message=f"Use at most {BOOK_FILTER_MAX} characters."),
            no_control_characters,
        ],
    )
    state = SelectField(
        "State",
        id="filter-state",
        choices=[SelectChoice("", "Any")] + [SelectChoice(value, label) for value, (label, _) in STATE_FILTERS.items()],
        default="",
        validate_choice=True,
    )
    min_total = MoneyField("Total at least", id="filter-min", validators=[Optional(), CentsRange(0, TOTAL_MAX_CENTS)])
    max_total = MoneyField("Total at most", id="filter-max", validators=[Optional(), CentsRange(0, TOTAL_MAX_CENTS)])

    NAMES = ("state", "date_from", "date_to", "paid_from", "paid_to", "email", "book", "min_total", "max_total")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for name in ("date_from", "date_to", "paid_from", "paid_to"):
            field = getattr(self, name)
            if field.errors and field.raw_data and field.raw_data[0].strip():
                field.errors[:] = ["Enter a date as YYYY-MM-DD."]
        if valid and self.date_from.data and self.date_to.data and self.date_from.data > self.date_to.data:
            self.date_to.errors.append("The last day comes before the first; swap them.")
            valid = False
        if valid and self.paid_from.data and self.paid_to.data and self.paid_from.data > self.paid_to.data:
            self.paid_to.errors.append("The last day comes before the first; swap them.")
            valid = False
        if (
            valid
            and self.min_total.data is not None
            and self.max_total.data is not None
            and self.min_total.data > self.max_total.data
        ):
            self.max_total.errors.append("The maximum is below the minimum.")
            valid = False
        return valid

    def query_args(self) -> dict[str, str]:
        """The filters as typed, for links to other pages of the same list."""
        return {
            name: getattr(self, name).raw_data[0]
            for name in self.NAMES
            if getattr(self, name).raw_data and getattr(self, name).raw_data[0].strip()
        }
