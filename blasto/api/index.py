"""The API's index: what this API is and where to go next."""

from flask import url_for
from flask_smorest import Blueprint

from blasto.api import API_VERSION, URL_PREFIX
from blasto.api.schemas import HomeSchema

blp = Blueprint("api", __name__, url_prefix=URL_PREFIX, description="Where to start")


def _links() -> dict:
    return {
        "self": url_for("api.home"),
        "docs": url_for("api_docs.page"),
        "openapi": url_for("api-docs.openapi_json"),
        "products": url_for("products.list_products"),
        "site": url_for("site.home"),
        "health": url_for("health.healthz"),
        "ready": url_for("health.readyz"),
    }


@blp.get("/home")
@blp.alt_response(200, schema=HomeSchema, success=True, description="The API's name, version and links")
def home():
    """The API's name, version and links to the rest."""
    return {"name": "Blasto", "version": API_VERSION, "links": _links()}
