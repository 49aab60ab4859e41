r"""Bodies must be JSON: a form or plain-text body is a 415, not a confusing 422.

JSON can also carry text no database column takes: "\u0000" (Postgres refuses
NUL in text) and unpaired surrogates like "\ud800" (not Unicode at all; no
UTF-8 encoder accepts them). Either is a 422 naming the field, checked once
for every body here, instead of a 500 from whichever layer meets it first.
"""

from collections.abc import Iterable
from typing import Any

from flask import request
from flask_smorest import abort

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def require_json_body() -> None:
    """A `before_request` hook for blueprints whose writes take a JSON body."""
    if request.method not in BODY_METHODS:
        return
    if not request.content_length and "Content-Type" not in request.headers:
        return  # no body at all (POST .../cancel): the endpoint's schema, if any, says it is missing
    if not request.is_json:
        abort(415, message="Send the body as JSON with 'Content-Type: application/json'.")
    bad = unstorable_text(request.get_json(silent=True))
    if bad is not None:
        message = "Text must not contain NUL characters or unpaired surrogates (\\u0000, \\ud800)."
        abort(422, message=message, errors={"json": {bad: [message]}})


def unstorable_text(value, path: str = "") -> str | None:
    """The dotted path of the first string (key or value) holding NUL or a lone surrogate, else None."""
    if isinstance(value, str):
        return None if value.isprintable() or _storable(value) else (path or "(body)")
    items: Iterable[tuple[Any, Any]]
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        shown = key.encode("utf-8", "backslashreplace").decode() if isinstance(key, str) else str(key)
        where = f"{path}.{shown}" if path else shown
        if isinstance(key, str) and not _storable(key):
            return where
        found = unstorable_text(item, where)
        if found is not None:
            return found
    return None


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
