"""Error responses: JSON under /api/, an HTML page elsewhere, never a traceback.

One handler for every HTTP error keeps the two shapes consistent. Each error
is logged once (the log record factory adds the request id); unexpected
exceptions get their traceback in the log and a plain 500 for the client.
"""
from __future__ import annotations

import logging

from flask import Flask, g, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger("blasto.errors")
API_PREFIX = "/api/"
CSRF_MESSAGE = "This form has expired or did not come from this site. Go back, reload the page and try again."
GENERIC_500 = "Something went wrong on our side. It has been logged; please try again."


def error_slug(exc: HTTPException) -> str:
    return (exc.name or "error").lower().replace(" ", "_").replace("'", "")


def error_details(exc: HTTPException) -> tuple[str, dict | None, dict]:
    """(message, field errors, extra headers) from an exception.

    flask-smorest's `abort(code, message=..., errors=...)` and webargs'
    validation failures (`messages`, per location) put them in `exc.data`.
    """
    if isinstance(exc, CSRFError):  # Flask-WTF's wording is for developers
        return CSRF_MESSAGE, None, {}
    data = getattr(exc, "data", None) or {}
    message = data.get("message") or exc.description or ""
    errors = data.get("errors") or data.get("messages")
    if errors is not None and "message" not in data:
        message = "The request is not valid; see errors for each field."
    return message, errors, data.get("headers") or {}


def render_error(exc: HTTPException):
    """The response for `exc`, shaped for the API or for a browser."""
    code = exc.code or 500
    message, errors, headers = error_details(exc)
    if request.path.startswith(API_PREFIX):
        body = {"error": error_slug(exc), "message": message, "request_id": g.request_id}
        if errors is not None:
            body["errors"] = errors
        response = jsonify(body)
    else:
        from blasto.web.outages import database_errors, database_outage

        try:
            page = render_template("error.html", code=code, name=exc.name, description=message)
        except database_errors() as error:  # the layout asks the database who is logged in
            return database_outage(error)
        response = make_response(page)
    response.status_code = code
    # Keep the headers the exception carries (Allow on 405, Retry-After on 429...).
    for key, value in [*exc.get_headers(), *headers.items()]:
        if key.lower() != "content-type":
            response.headers[key] = value
    return response


def http_error(exc: HTTPException):
    level = logging.ERROR if (exc.code or 500) >= 500 else logging.INFO
    log.log(level, "http error", extra={"status": exc.code, "error": error_slug(exc), "method": request.method, "path": request.path})
    return render_error(exc)


def unexpected_error(exc: Exception):
    log.exception("unhandled exception", extra={"status": 500, "method": request.method, "path": request.path})
    return render_error(InternalServerError(description=GENERIC_500))


def register_error_handlers(app: Flask) -> None:
    from blasto.web.outages import register_outage_handlers

    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)
    register_outage_handlers(app)  # Postgres or Redis unreachable: 503, not 500
