"""The site's forms. Every FlaskForm carries a CSRF token; WTForms checks each field (shared pieces: blasto.web.forms)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, RadioField, SelectField, StringField
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Regexp,
    ValidationError,
)
from wtforms.widgets import HiddenInput

from blasto.core.extensions import db
from blasto.models import User
from blasto.models.base import MAX_ID
from blasto.models.user import EMAIL_MAX, NAME_MAX
from blasto.shop.cart import MAX_QUANTITY
from blasto.shop.passwords import PASSWORD_MAX, PASSWORD_MIN, password_problem
from blasto.web.forms import NO_CONTROL_CHARACTERS, CsrfOnlyForm, WholeNumberField, normalise_email, strip


def email_validators(when_empty: str) -> list:
    """An address: given (saying `when_empty` if not), short enough for the column, shaped like one."""
    return [InputRequired(when_empty), Length(max=EMAIL_MAX), Email("That does not look like an e-mail address.")]


NAME_VALIDATORS = [  # sign-up's and the account page's
    DataRequired("Please enter your name."),
    Length(max=NAME_MAX, message=f"Use at most {NAME_MAX} characters."),
    Regexp(
        NO_CONTROL_CHARACTERS,
        message="Remove the control characters (invisible characters pasted from elsewhere).",
    ),
]


class SignupForm(FlaskForm):
    name = StringField("Name", filters=[strip], validators=NAME_VALIDATORS)
    email = EmailField(
        "E-mail",
        filters=[normalise_email],
        validators=email_validators("Please enter your e-mail address."),
    )
    password = PasswordField(
        "Password",
        description=f"At least {PASSWORD_MIN} characters; not a common password.",
        validators=[InputRequired("Please choose a password.")],
        render_kw={"minlength": PASSWORD_MIN, "maxlength": PASSWORD_MAX},  # the browser's hint; the rule decides
    )

    def validate_email(self, field):
        if field.errors:  # already refused (not an address, or has NUL, which Postgres cannot compare)
            return
        if db.session.scalar(select(User.id).where(User.email == field.data)) is not None:
            raise ValidationError("An account with this e-mail already exists; log in instead.")

    def validate_password(self, field):
        """The one rule (blasto.shop.passwords), the same as the API's and create-admin's."""
        problem = password_problem(field.data, self.email.data)
        if problem:
            raise ValidationError(problem)


class LoginForm(FlaskForm):
    email = EmailField(
        "E-mail",
        filters=[normalise_email],
        validators=[
            InputRequired("Please enter your e-mail address."),
            Length(max=EMAIL_MAX),
            Regexp(NO_CONTROL_CHARACTERS, message="That does not look like an e-mail address."),
        ],
    )
    password = PasswordField(
        "Password", validators=[InputRequired("Please enter your password."), Length(max=PASSWORD_MAX)]
    )
    remember = BooleanField("Keep me logged in on this device")


class ForgotPasswordForm(FlaskForm):
    email = EmailField(
        "E-mail",
        description="The address of your account; we send the link there.",
        filters=[normalise_email],
        validators=email_validators("Please enter your e-mail address."),
    )


class ResetPasswordForm(FlaskForm):
    """A new password, twice; `email` (the account's) is set by the view for the rule."""

    email: str | None = None
    password = PasswordField(
        "New password",
        description=f"At least {PASSWORD_MIN} characters; not a common password.",
        validators=[InputRequired("Please choose a new password.")],
        render_kw={"minlength": PASSWORD_MIN, "maxlength": PASSWORD_MAX},
    )
    confirm = PasswordField(
        "New password again",
        validators=[
            InputRequired("Please type the new password again."),
            EqualTo("password", message="The two passwords are not the same; type them again."),
        ],
        render_kw={"maxlength": PASSWORD_MAX},
    )

    def validate_password(self, field):
        """The one rule (blasto.shop.passwords), as for sign-up."""
        problem = password_problem(field.data, self.email)
        if problem:
            raise ValidationError(problem)


class NameForm(FlaskForm):
    name = StringField("Name", filters=[strip], validators=NAME_VALIDATORS)


class ChangePasswordForm(ResetPasswordForm):
    """The current password, then a new one twice under the house rule; the view checks the current one."""

    current = PasswordField(
        "Current password",
        validators=[InputRequired("Please enter your current password."), Length(max=PASSWORD_MAX)],
    )


class EmailChangeForm(FlaskForm):
    """A new address (confirmed by a link sent to it) and the current password."""

    email = EmailField(
        "New e-mail",
        description="We send a link to this address; the change is made when you follow it.",
        filters=[normalise_email],
        validators=email_validators("Please enter the new e-mail address."),
    )
    email_current = PasswordField(  # not `current`: the password form on the same page has that id
        "Current password",
        validators=[InputRequired("Please enter your current password."), Length(max=PASSWORD_MAX)],
    )


class ConfirmEmailForm(CsrfOnlyForm):
    """The e-mail link's page: a button, so a mail scanner's GET confirms nothing."""


class DeleteAccountForm(FlaskForm):
    current = PasswordField(
        "Current password",
        validators=[InputRequired("Please enter your current password."), Length(max=PASSWORD_MAX)],
    )


class LogoutForm(CsrfOnlyForm):
    """Logging out is a state change, so a POST."""


class ProductForm(FlaskForm):
    product_id = WholeNumberField(widget=HiddenInput(), validators=[InputRequired(), NumberRange(1, MAX_ID)])


class AddToCartForm(ProductForm):
    quantity = WholeNumberField(
        "Quantity",
        default=1,
        validators=[
            InputRequired("Please enter a quantity."),
            NumberRange(1, MAX_QUANTITY, f"Choose from 1 to {MAX_QUANTITY}."),
        ],
    )
    next = HiddenField()


class UpdateCartForm(ProductForm):
    quantity = WholeNumberField(
        "Quantity",
        validators=[
            InputRequired("Please enter a quantity."),
            NumberRange(0, MAX_QUANTITY, f"Choose from 0 (remove) to {MAX_QUANTITY}."),
        ],
    )


class RemoveFromCartForm(ProductForm):
    pass


NEW_ADDRESS = "new"


class CheckoutForm(FlaskForm):
    """Where to ship and how, plus hidden fields written when the form is shown.

    `idempotency_key` makes a double-submitted form buy once; `cart_digest`
    makes sure the order bought is the one the shopper reviewed. The view
    fills the choices (saved addresses, countries, shipping options); the
    address itself is checked by blasto.shop.shipping, the API's rule too.
    """

    idempotency_key = HiddenField(validators=[InputRequired(), Length(16, 64), Regexp(r"^[A-Za-z0-9_-]+$")])
    cart_digest = HiddenField(validators=[InputRequired(), Regexp(r"^[0-9a-f]{64}$")])
    address = RadioField("Ship to", default=NEW_ADDRESS, validate_choice=False)
    name = StringField("Recipient's name", filters=[strip])
    line1 = StringField("Street address", filters=[strip])
    line2 = StringField("Address line 2 (optional)", filters=[strip])
    city = StringField("City", filters=[strip])
    postal_code = StringField("Postal code", filters=[strip])
    country = SelectField("Country", validate_choice=False)
    shipping_option = RadioField("Shipping", validate_choice=False)


class CardPaymentForm(CsrfOnlyForm):
    """The card form's post: only the id of the card Stripe.js tokenised in the page, never a card number.

    The id is checked by blasto.shop.card_checkout (a missing or malformed one is a clear error there).
    """

    card_id = HiddenField()
