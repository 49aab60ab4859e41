"""Liveness and readiness probes, and the round-trip task readiness uses."""
from flask import Blueprint

bp = Blueprint("health", __name__)

from blasto.health import views  # noqa: E402,F401  (routes attach to bp)
