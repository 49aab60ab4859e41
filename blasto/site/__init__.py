"""The shop's HTML pages."""
from flask import Blueprint

bp = Blueprint("site", __name__)

from blasto.site import views  # noqa: E402,F401  (routes attach to bp)
