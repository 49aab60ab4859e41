"""Liveness and readiness probes, `flask ready`, and the heartbeat task a worker runs for them."""

from flask import Blueprint

bp = Blueprint("health", __name__)

from blasto.health import views  # noqa: E402,F401  (routes attach to bp)
