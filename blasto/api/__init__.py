"""The JSON API, mounted at /api/v1 (errors there are JSON: see blasto.errors)."""
from flask import Blueprint

API_VERSION = "v1"
bp = Blueprint("api", __name__)

from blasto.api import views  # noqa: E402,F401  (routes attach to bp)
