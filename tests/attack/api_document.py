"""The API's operations and a valid request for each, derived from its OpenAPI document.

Injection tests start from a request the API accepts and spoil one field at a
time, so a refusal is about that field. The valid request is built from the
schema (required properties, minimums, formats), not written by hand, so a new
operation or field is attacked without editing the tests.
"""

from __future__ import annotations

import itertools
from copy import deepcopy
from datetime import date
from functools import cache

from tests.attack.routes import routing_app
from tests.support.factories import PASSWORD

_unique = itertools.count(1)


@cache
def document() -> dict:
    return routing_app().test_client().get("/api/v1/openapi.json").get_json()


def operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation in the document."""
    return sorted(
        (method.upper(), path)
        for path, item in document()["paths"].items()
        for method in item
        if method != "parameters"
    )


def operation(method: str, path: str) -> dict:
    return document()["paths"][path][method.lower()]


def resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = document()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def body_schema(method: str, path: str) -> dict | None:
    content = operation(method, path).get("requestBody", {}).get("content", {})
    return resolve(content["application/json"]["schema"]) if "application/json" in content else None


def parameters(method: str, path: str, where: str) -> list[dict]:
    item = document()["paths"][path]
    return [
        p for p in [*item.get("parameters", []), *operation(method, path).get("parameters", [])] if p["in"] == where
    ]


def valid_value(schema: dict, name: str = ""):
    """A value the schema accepts (the shop has a book with id 1; dates are today)."""
    schema = resolve(schema)
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        required = schema.get("required", list(schema.get("properties", {})))
        return {key: valid_value(value, key) for key, value in schema.get("properties", {}).items() if key in required}
    if kind == "array":
        return [valid_value(schema["items"])] * max(1, schema.get("minItems", 1))
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if schema.get("format") == "email":
        return f"injected-{next(_unique)}@example.com"
    if schema.get("format") == "date":
        return date.today().isoformat()
    if name == "password":
        return PASSWORD + " staple"
    return "Valid text".ljust(schema.get("minLength", 1), ".")


def leaves(value, path=()):
    """Paths (tuples of keys and indexes) to every scalar in a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path


def replaced(value, path, new):
    copy = deepcopy(value)
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return copy


def security(method: str, path: str) -> set[str]:
    return {name for requirement in operation(method, path).get("security", []) for name in requirement}
