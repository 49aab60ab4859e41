"""The Api object: OpenAPI metadata, security schemes and the blueprints.

One Api per app (flask-smorest's Api keeps a reference to its app, and tests
build many apps). Its own error handler is not installed: blasto.web.errors
answers every HTTP error, so the API's errors and the pages' share one code
path and one logged line, and ErrorSchema below documents that shape.
"""

from __future__ import annotations

import marshmallow as ma
from flask import Flask
from flask_smorest import Api

from blasto.api import (
    API_VERSION,
    URL_PREFIX,
    docs,
    index,
    password_reset,
    products,
    purchases,
    reports,
    tokens,
    users,
)
from blasto.core.extensions import csrf


class ErrorSchema(ma.Schema):
    error = ma.fields.String(required=True, metadata={"description": "Machine-readable error name, e.g. not_found"})
    message = ma.fields.String(required=True, metadata={"description": "What went wrong, for people"})
    request_id = ma.fields.String(metadata={"description": "Quote it when asking for help"})
    errors = ma.fields.Dict(metadata={"description": "Per-location, per-field details (validation and conflicts)"})


class BlastoApi(Api):
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        """blasto.web.errors handles HTTPException for the whole app."""


def init_api(app: Flask) -> BlastoApi:
    app.config.setdefault("API_TITLE", "Blasto")
    app.config.setdefault("API_VERSION", API_VERSION)
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", URL_PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = BlastoApi(
        app,
        spec_kwargs={
            "info": {
                "description": "Buy books from Blasto. Create an account, exchange it for a bearer token, then order."
            },
        },
    )
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "A token from POST /api/v1/tokens"}
    )
    api.spec.components.security_scheme(
        "basicAuth", {"type": "http", "scheme": "basic", "description": "Your e-mail and password"}
    )
    for blueprint in (
        index.blp,
        users.blp,
        tokens.blp,
        password_reset.blp,
        products.blp,
        purchases.blp,
        reports.blp,
        docs.blp,
    ):
        api.register_blueprint(blueprint)
        # Token-authenticated JSON: no cookies are read, so no CSRF tokens either.
        csrf.exempt(blueprint)
    app.extensions["blasto.api"] = api
    return api
