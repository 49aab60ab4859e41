"""Bodies must be JSON: a form or plain-text body is a 415, not a confusing 422."""
from flask import request
from flask_smorest import abort

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def require_json_body() -> None:
    """A `before_request` hook for blueprints whose writes take a JSON body."""
    if request.method in BODY_METHODS and not request.is_json:
        abort(415, message="Send the body as JSON with 'Content-Type: application/json'.")
