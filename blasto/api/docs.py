"""A readable reference for people at /api/v1/docs, rendered from the OpenAPI document.

Served by the app itself (no CDN script), so it works offline and under a
strict Content-Security-Policy, and it can never disagree with openapi.json.
"""

from __future__ import annotations

from flask import current_app, render_template
from flask_smorest import Blueprint

from blasto.api import URL_PREFIX

blp = Blueprint("api_docs", __name__, url_prefix=URL_PREFIX, description="This reference")
METHODS = ("get", "post", "put", "patch", "delete")


def operations(spec: dict) -> list[dict]:
    found = []
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                operation = item[method]
                body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
                found.append(
                    {
                        "method": method.upper(),
                        "path": path,
                        "summary": operation.get("summary", ""),
                        "description": operation.get("description", ""),
                        "auth": [name for requirement in operation.get("security", []) for name in requirement],
                        "parameters": [*item.get("parameters", []), *operation.get("parameters", [])],
                        "body": body.get("$ref", "").rsplit("/", 1)[-1],
                        "responses": sorted(operation.get("responses", {}).items()),
                    }
                )
    return found


@blp.get("/docs")
@blp.doc(
    summary="This reference, as an HTML page", responses={"200": {"description": "HTML", "content": {"text/html": {}}}}
)
def page():
    spec = current_app.extensions["blasto.api"].spec.to_dict()
    return render_template(
        "api_docs.html", spec=spec, operations=operations(spec), schemas=spec.get("components", {}).get("schemas", {})
    )
