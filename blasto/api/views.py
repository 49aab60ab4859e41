"""The API's index: what this API is and where to go next."""
from flask import url_for

from blasto.api import API_VERSION, bp


@bp.get("/home")
def home():
    return {
        "name": "Blasto",
        "version": API_VERSION,
        "links": {
            "self": url_for("api.home"),
            "site": url_for("site.home"),
            "health": url_for("health.healthz"),
            "ready": url_for("health.readyz"),
        },
    }
