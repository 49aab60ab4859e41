"""Shapes of the products resource: the catalogue's query parameters and a book (they also write the OpenAPI document).

The parameters are the site's (`/books?genre=poetry&sort=price&min_price=5`),
checked by the same rules (blasto.shop.catalog): prices are dollars as
typed, held as integer cents once read.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from blasto.api.schemas import PageArgsSchema, PageSchema, SelfLinkSchema
from blasto.models.product import FORMATS
from blasto.shop.catalog import MAX_SEARCH_LENGTH, SORTS, CatalogQuery, clean_search, price_range_problem
from blasto.shop.genres import GENRES
from blasto.shop.money import parse_dollars


class Dollars(fields.String):
    """An amount in dollars as text ("12.99", "12"), loaded as integer cents."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parse_dollars(text)
        except ValueError as exc:
            raise ma.ValidationError(str(exc)) from exc


class ProductArgsSchema(PageArgsSchema):
    q = fields.String(
        load_default="",
        validate=validate.Length(max=MAX_SEARCH_LENGTH),
        metadata={
            "description": "Search: every word (or the start of one) in the title, author or description, "
            "ignoring case and accents; the best match first unless `sort` says otherwise"
        },
    )
    genre = fields.String(
        validate=validate.OneOf(list(GENRES), error="There is no genre “{input}”. Choose one of: {choices}."),
        metadata={"description": "Only books of this genre"},
    )
    sort = fields.String(
        validate=validate.OneOf(list(SORTS), error="Books cannot be sorted by “{input}”. Sort by one of: {choices}."),
        metadata={
            "description": "new (newest first), best-selling (copies sold), price (lowest first), "
            "price-desc (highest first) or title; without it, the best match when searching, else the title"
        },
    )
    in_stock = fields.Boolean(load_default=False, metadata={"description": "Only books with copies in stock"})
    min_price = Dollars(metadata={"description": "Lowest price, in dollars", "example": "5"})
    max_price = Dollars(
        metadata={"description": "Highest price, in dollars (not below `min_price`)", "example": "12.99"}
    )

    @ma.validates_schema
    def price_range_is_sane(self, data, **kwargs):
        problem = price_range_problem(data.get("min_price"), data.get("max_price"))
        if problem:
            raise ma.ValidationError(problem, "max_price")


def catalog_query(args: dict) -> CatalogQuery:
    """The loaded parameters as the catalogue's query."""
    return CatalogQuery(
        search=clean_search(args["q"]),
        genre=args.get("genre"),
        sort=args.get("sort"),
        in_stock=args["in_stock"],
        min_cents=args.get("min_price"),
        max_cents=args.get("max_price"),
    )


class ProductSchema(ma.Schema):
    id = fields.Integer()
    title = fields.String()
    author = fields.String()
    description = fields.String()
    price_cents = fields.Integer()
    price_display = fields.String()
    stock = fields.Integer()
    genre = fields.String(
        allow_none=True, validate=validate.OneOf(list(GENRES)), metadata={"description": "null: none yet"}
    )
    genre_label = fields.String(allow_none=True)
    publisher = fields.String(allow_none=True)
    year_published = fields.Integer(allow_none=True, metadata={"description": "The year the work was first published"})
    pages = fields.Integer(allow_none=True)
    format = fields.String(allow_none=True, validate=validate.OneOf(list(FORMATS)))
    isbn13 = fields.String(
        allow_none=True, metadata={"description": "13 digits, no hyphens", "example": "9780141439518"}
    )
    cover_url = fields.String(
        metadata={
            "description": "The cover (WebP, or a generated SVG when the book has no uploaded cover); the URL changes when the cover does, so it may be cached for a year"
        }
    )
    _links = fields.Nested(SelfLinkSchema)


class ProductPageSchema(PageSchema):
    items = fields.List(fields.Nested(ProductSchema))
