"""The v1 JSON API under /api/v1: flask-smorest blueprints, one per resource.

Errors here are JSON (blasto.web.errors); the OpenAPI document is served at
/api/v1/openapi.json and rendered for people at /api/v1/docs.
"""

from collections.abc import Callable
from typing import NoReturn, cast

from flask_smorest import abort as _smorest_abort

# flask-smorest's abort always raises, but is not annotated NoReturn; typed so checks after it narrow.
abort = cast(Callable[..., NoReturn], _smorest_abort)

API_VERSION = "v1"
URL_PREFIX = "/api/v1"
# OpenAPI security requirements, for `@blp.doc(security=...)`; core.py declares the schemes.
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
BASIC: list[dict[str, list[str]]] = [{"basicAuth": []}]
