"""The catalogue, read-only: a searchable, paginated list and one book (hidden books are absent)."""

from __future__ import annotations

from flask import url_for
from flask_smorest import Blueprint

from blasto.api import URL_PREFIX, abort
from blasto.api.auth import token_auth
from blasto.api.pagination import envelope
from blasto.api.product_schemas import ProductArgsSchema, ProductPageSchema, ProductSchema, catalog_query
from blasto.models import Product
from blasto.models.base import ID_CONVERTER
from blasto.shop.catalog import catalog_page, product_for_sale
from blasto.shop.genres import genre_label
from blasto.shop.money import format_cents
from blasto.web.covers import cover_url

COVER_API_WIDTH = 480  # the larger size: a client scales down

blp = Blueprint("products", __name__, url_prefix=f"{URL_PREFIX}/products", description="Books for sale")


def product_json(product: Product) -> dict:
    return {
        "id": product.id,
        "title": product.title,
        "author": product.author,
        "description": product.description,
        "price_cents": product.price_cents,
        "price_display": format_cents(product.price_cents),
        "stock": product.stock,
        "genre": product.genre,
        "genre_label": genre_label(product.genre) if product.genre else None,
        "publisher": product.publisher,
        "year_published": product.year_published,
        "pages": product.pages,
        "format": product.format,
        "isbn13": product.isbn13,
        "cover_url": cover_url(product, COVER_API_WIDTH),
        "_links": {"self": url_for("products.get_product", product_id=product.id)},
    }


@blp.get("")
@token_auth(blp)
@blp.arguments(ProductArgsSchema, location="query")
@blp.response(200, ProductPageSchema)
def list_products(args):
    """Books by title, or as searched, filtered and sorted; the links keep every parameter."""
    page, per_page = args["page"], args["per_page"]
    query = catalog_query(args)
    products, total = catalog_page(query, page, per_page)
    return envelope(
        [product_json(p) for p in products], page, per_page, total, "products.list_products", **query.query_args()
    )


@blp.get(f"/<{ID_CONVERTER}:product_id>")
@token_auth(blp)
@blp.response(200, ProductSchema)
@blp.alt_response(404, response="NOT_FOUND")
def get_product(product_id: int):
    """One book."""
    product = product_for_sale(product_id)
    if product is None:
        abort(404, message=f"No book with id {product_id}.")
    return product_json(product)
