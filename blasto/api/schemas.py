"""Request and response shapes (marshmallow), which also write the OpenAPI document.

Unknown fields in a body are refused (marshmallow's default), so a typo in a
field name is a 422 instead of a silently ignored value.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from blasto.core.shipping_settings import DEFAULT_COUNTRIES, OPTION_MAX
from blasto.models.address import CITY_MAX, LINE_MAX, POSTAL_CODE_MAX, RECIPIENT_MAX
from blasto.models.base import MAX_ID
from blasto.models.outbox import FAILED, PENDING, SENT
from blasto.models.purchase import CAUSES, PAYMENT_METHODS, STATUSES
from blasto.models.user import EMAIL_MAX, NAME_MAX
from blasto.shop.card_checkout import CARD_ID
from blasto.shop.cart import MAX_LINES, MAX_QUANTITY
from blasto.shop.passwords import PASSWORD_MAX, PASSWORD_MIN, password_problem
from blasto.shop.shipping import AddressError, check_address

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
MAX_PAGE = 1_000_000  # keeps OFFSET far from integer overflow


class PageArgsSchema(ma.Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(
        load_default=DEFAULT_PER_PAGE,
        validate=validate.Range(min=1),
        metadata={"description": f"Items per page; values above {MAX_PER_PAGE} are capped to {MAX_PER_PAGE}"},
    )

    @ma.post_load
    def cap(self, data, **kwargs):
        data["per_page"] = min(data["per_page"], MAX_PER_PAGE)
        return data


class PageMetaSchema(ma.Schema):
    page = fields.Integer()
    per_page = fields.Integer()
    total_pages = fields.Integer()
    total_items = fields.Integer()


class PageLinksSchema(ma.Schema):
    self = fields.String()
    next = fields.String(allow_none=True)
    prev = fields.String(allow_none=True)


class PageSchema(ma.Schema):
    """The collection envelope; subclasses say what `items` holds."""

    _meta = fields.Nested(PageMetaSchema)
    _links = fields.Nested(PageLinksSchema)


class SelfLinkSchema(ma.Schema):
    self = fields.String()


class HomeSchema(ma.Schema):
    """The API's index (documents GET /api/v1/home, which has no other response)."""

    name = fields.String()
    version = fields.String()
    links = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "self, docs, openapi, products, site, health, ready"},
    )


def password_rule(value: str) -> None:
    # The one rule (blasto.shop.passwords), the same as the sign-up page's and create-admin's.
    problem = password_problem(value)
    if problem:
        raise ma.ValidationError(problem)


class UserCreateSchema(ma.Schema):
    email = fields.Email(required=True, validate=validate.Length(max=EMAIL_MAX))
    password = fields.String(
        required=True,
        load_only=True,
        validate=password_rule,
        metadata={
            "minLength": PASSWORD_MIN,
            "maxLength": PASSWORD_MAX,
            "description": f"{PASSWORD_MIN} to {PASSWORD_MAX} characters; not among the 10,000 most common passwords, not the e-mail address",
        },
    )
    name = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=NAME_MAX),
            validate.Regexp(
                r"^[^\x00-\x1f\x7f]*$",
                error="Remove the control characters (invisible characters pasted from elsewhere).",
            ),
        ],
    )

    @ma.validates_schema(skip_on_field_errors=True)
    def password_is_not_the_email(self, data, **kwargs):
        problem = password_problem(data["password"], data["email"])
        if problem:
            raise ma.ValidationError(problem, "password")

    @ma.pre_load
    def strip(self, data, **kwargs):
        if isinstance(data, dict):
            data = {
                key: value.strip() if key in ("email", "name") and isinstance(value, str) else value
                for key, value in data.items()
            }
        return data

    @ma.post_load
    def normalise(self, data, **kwargs):
        data["email"] = data["email"].lower()
        if not data["name"]:
            raise ma.ValidationError("Name must not be blank.", "name")
        return data


class PasswordResetAskSchema(ma.Schema):
    email = fields.Email(required=True, validate=validate.Length(max=EMAIL_MAX))


class PasswordResetConfirmSchema(ma.Schema):
    token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=500),
        metadata={"description": "The `token` of the link in the e-mail (what follows ?token=)"},
    )
    password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(max=PASSWORD_MAX),
        metadata={
            "minLength": PASSWORD_MIN,
            "maxLength": PASSWORD_MAX,
            "description": f"The new password: {PASSWORD_MIN} to {PASSWORD_MAX} characters; not among the 10,000 most common passwords, not the e-mail address",
        },
    )


class MessageSchema(ma.Schema):
    message = fields.String(metadata={"description": "What happened, for people"})


class UserSchema(ma.Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    is_admin = fields.Boolean()
    created_at = fields.DateTime()
    _links = fields.Nested(SelfLinkSchema)


class TokenSchema(ma.Schema):
    token = fields.String(metadata={"description": "Send as `Authorization: Bearer <token>`; shown only once"})
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_at = fields.DateTime()


class OrderLineSchema(ma.Schema):
    product_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_QUANTITY))


class ShippingAddressSchema(ma.Schema):
    name = fields.String(required=True, validate=validate.Length(max=RECIPIENT_MAX), metadata={"example": "Ada Reader"})
    line1 = fields.String(required=True, validate=validate.Length(max=LINE_MAX), metadata={"example": "1 Book Street"})
    line2 = fields.String(load_default="", validate=validate.Length(max=LINE_MAX))
    city = fields.String(required=True, validate=validate.Length(max=CITY_MAX), metadata={"example": "Dublin"})
    postal_code = fields.String(
        required=True, validate=validate.Length(max=POSTAL_CODE_MAX), metadata={"example": "D02 X285"}
    )
    country = fields.String(
        required=True,
        validate=validate.Length(equal=2),
        metadata={
            "description": "ISO 3166-1 alpha-2, one the shop ships to (SHIP_TO_COUNTRIES; by default "
            + DEFAULT_COUNTRIES.replace(",", ", ")
            + ")",
            "example": "IE",
        },
    )


class PurchaseCreateSchema(ma.Schema):
    items = fields.List(fields.Nested(OrderLineSchema), required=True, validate=validate.Length(min=1, max=MAX_LINES))
    shipping_address = fields.Nested(
        ShippingAddressSchema, required=True, metadata={"description": "Copied onto the order and kept on the account"}
    )
    shipping_option = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=OPTION_MAX),
        metadata={
            "description": "One of the shop's SHIPPING_OPTIONS (by default standard or express); "
            "omitted: the first, standard"
        },
    )

    @ma.validates_schema
    def address_ships(self, data, **kwargs):
        """The shop's own address rule (blasto.shop.shipping), the same as the checkout form's."""
        if "shipping_address" not in data:
            return
        try:
            data["shipping_address"] = check_address(data["shipping_address"])
        except AddressError as exc:
            raise ma.ValidationError({"shipping_address": {f: [m] for f, m in exc.errors.items()}}) from None

    @ma.validates_schema
    def no_repeats(self, data, **kwargs):
        seen: set[int] = set()
        repeated: set[int] = set()
        for line in data.get("items", []):
            (repeated if line["product_id"] in seen else seen).add(line["product_id"])
        if repeated:
            ids = ", ".join(map(str, sorted(repeated)))
            raise ma.ValidationError(
                f"Each book may appear once; put the total quantity on one line (repeated: {ids}).", "items"
            )


class IdempotencyHeaderSchema(ma.Schema):
    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        load_default=None,
        validate=[
            validate.Length(min=1, max=255),
            validate.Regexp(r"^[\x21-\x7e]+$", error="Use visible ASCII characters only."),
        ],
        metadata={"description": "Retrying with the same key and body returns the first purchase"},
    )


class PurchaseItemSchema(ma.Schema):
    product_id = fields.Integer()
    title = fields.String()
    quantity = fields.Integer()
    unit_price_cents = fields.Integer()
    line_total_cents = fields.Integer()


STATUS_DESCRIPTION = (
    "awaiting_payment -> paid -> shipped; or cancelled (unpaid) / refunded (paid), by the shopper, the shop "
    "or, unpaid past the payment timeout, by the shop's clock"
)


class ShippingSchema(ma.Schema):
    option = fields.String(allow_none=True, metadata={"description": "null on orders placed before shipping existed"})
    cents = fields.Integer(metadata={"description": "What shipping cost (0: free, or an order from before shipping)"})
    display = fields.String()


class AddressSchema(ma.Schema):
    name = fields.String()
    line1 = fields.String()
    line2 = fields.String()
    city = fields.String()
    postal_code = fields.String()
    country = fields.String()


class PurchaseSchema(ma.Schema):
    id = fields.Integer()
    status = fields.String(validate=validate.OneOf(STATUSES), metadata={"description": STATUS_DESCRIPTION})
    created_at = fields.DateTime()
    lines_total_cents = fields.Integer(metadata={"description": "The books: the sum of the lines"})
    shipping = fields.Nested(ShippingSchema)
    shipping_address = fields.Nested(
        AddressSchema, allow_none=True, metadata={"description": "null on orders placed before shipping existed"}
    )
    total_cents = fields.Integer(metadata={"description": "The bill: lines_total_cents plus shipping.cents"})
    total_display = fields.String()
    currency = fields.String()
    items = fields.List(fields.Nested(PurchaseItemSchema))
    _links = fields.Nested(SelfLinkSchema)


class ReceiptSchema(ma.Schema):
    state = fields.String(
        validate=validate.OneOf((PENDING, SENT, FAILED)),  # a receipt is never withdrawn
        metadata={
            "description": "pending until the worker hands it to the mail server, then sent; failed after the retry bound"
        },
    )
    sent_at = fields.DateTime(allow_none=True)


class PaymentSchema(ma.Schema):
    method = fields.String(
        validate=validate.OneOf(PAYMENT_METHODS),
        metadata={
            "description": "manual: paid outside the shop (bank transfer, cash); the shop marks it paid. "
            "stripe: paid by card (POST /api/v1/purchases/{purchase_id}/payment)"
        },
    )
    instructions = fields.String(
        allow_none=True, metadata={"description": "How to pay, while the order awaits its payment; else null"}
    )
    due_by = fields.DateTime(
        allow_none=True,
        metadata={"description": "Unpaid by then, the order is cancelled and its stock released; null once settled"},
    )
    publishable_key = fields.String(
        metadata={"description": "Card orders only: the shop's Stripe publishable key, for Stripe.js (createToken)"}
    )
    client_secret = fields.String(
        allow_none=True,
        metadata={
            "description": "Card orders only, while awaiting payment: the PaymentIntent's client secret, for "
            "Stripe.js's confirmCardPayment when the bank asks for 3-D Secure; null otherwise, or while "
            "Stripe cannot be reached"
        },
    )
    status = fields.String(
        allow_none=True,
        metadata={
            "description": "Card orders only: Stripe's PaymentIntent status while awaiting payment "
            "(requires_payment_method, requires_action, processing...; null while Stripe cannot be reached), "
            "then succeeded, canceled or refunded as the order is paid, cancelled or refunded"
        },
    )


class CardPaymentSchema(ma.Schema):
    card_token = fields.String(
        required=True,
        validate=validate.Regexp(
            CARD_ID.pattern + r"\Z",
            error="Send the id Stripe.js's createToken gave: token.card.id (card_...) or token.id (tok_...).",
        ),
        metadata={
            "description": "From Stripe.js's createToken with the publishable key: the token's card id "
            "(token.card.id, card_...) or the token's id (tok_...); a PaymentMethod id (pm_...) serves too. "
            "Never a card number",
            "example": "card_1NqNz2Blasto",
        },
    )


class ShipmentSchema(ma.Schema):
    carrier = fields.String()
    tracking_number = fields.String()


class PurchaseEventSchema(ma.Schema):
    at = fields.DateTime()
    from_status = fields.String(
        allow_none=True, metadata={"description": "The state it left (one of to_status's); null: the order was placed"}
    )
    to_status = fields.String(validate=validate.OneOf(STATUSES))
    cause = fields.String(validate=validate.OneOf(CAUSES))
    note = fields.String(allow_none=True)


class PurchaseDetailSchema(PurchaseSchema):
    payment = fields.Nested(PaymentSchema)
    shipment = fields.Nested(ShipmentSchema, allow_none=True, metadata={"description": "Set once shipped"})
    history = fields.List(fields.Nested(PurchaseEventSchema), metadata={"description": "Every change, oldest first"})
    receipt = fields.Nested(
        ReceiptSchema,
        allow_none=True,
        metadata={"description": "The receipt e-mail's delivery; null until the order is paid"},
    )


class PurchasePageSchema(PageSchema):
    items = fields.List(fields.Nested(PurchaseSchema))
