"""The v1 JSON API under /api/v1: flask-smorest blueprints, one per resource.

Errors here are JSON (blasto.web.errors); the OpenAPI document is served at
/api/v1/openapi.json and rendered for people at /api/v1/docs.
"""
API_VERSION = "v1"
URL_PREFIX = "/api/v1"
# OpenAPI security requirements, for `@blp.doc(security=...)`; core.py declares the schemes.
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
BASIC: list[dict[str, list[str]]] = [{"basicAuth": []}]
