"""Error and outage responses: JSON under /api/, an HTML page elsewhere, never a traceback.

One handler for every HTTP error keeps the two shapes consistent. Each error
is logged once (the log record factory adds the request id); unexpected
exceptions get their traceback in the log and a plain 500 for the client.

Postgres or Redis unreachable is an outage, not a bug: a 503 with Retry-After
(the API gets the usual JSON body, a browser a plain page rendered without the
context processors, since the layout asks the database who is logged in).
Nothing here holds state: when the service returns, the next request works.
"""

from __future__ import annotations

import logging

import kombu.exceptions
import psycopg
import redis.exceptions
from flask import Flask, current_app, g, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sqlalchemy_errors
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from blasto.core.extensions import db
from blasto.web.error_pages import previous_page, words_for
from blasto.web.expired_forms import back_to_form

log = logging.getLogger("blasto.errors")
outages_log = logging.getLogger("blasto.outages")
API_PREFIX = "/api/"
CSRF_MESSAGE = "This form has expired or did not come from this site. Go back, reload the page and try again."
GENERIC_500 = "Something went wrong on our side. It has been logged; please try again."
RETRY_AFTER_SECONDS = 30
DATABASE_MESSAGE = "We can't reach our database right now; try again in a minute."
BROKER_MESSAGE = "We can't reach our task queue right now; try again in a minute."


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
        try:
            words = words_for(exc, message)
            page = render_template("error.html", code=code, words=words, back=previous_page())
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
    if isinstance(exc, CSRFError) and not request.path.startswith(API_PREFIX):
        back = back_to_form()  # an expired form goes back to its page with a message, not to a dead end
        if back is not None:
            log.info(
                "form session expired",
                extra={"status": back.status_code, "method": request.method, "path": request.path},
            )
            return back
    level = logging.ERROR if (exc.code or 500) >= 500 else logging.INFO
    log.log(
        level,
        "http error",
        extra={"status": exc.code, "error": error_slug(exc), "method": request.method, "path": request.path},
    )
    return render_error(exc)


def unexpected_error(exc: Exception):
    log.exception("unhandled exception", extra={"status": 500, "method": request.method, "path": request.path})
    return render_error(InternalServerError(description=GENERIC_500))


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)
    register_outage_handlers(app)  # Postgres or Redis unreachable: 503, not 500


def database_errors() -> tuple[type[Exception], ...]:
    """Errors that mean "the database is unreachable or refused us for now".

    SQLAlchemy wraps psycopg's OperationalError (refused, reset, server shut
    down, too many connections); DisconnectionError comes from the pool's ping;
    TimeoutError is the pool waiting in vain for a connection.
    """
    return (
        sqlalchemy_errors.OperationalError,
        sqlalchemy_errors.DisconnectionError,
        sqlalchemy_errors.TimeoutError,
        psycopg.OperationalError,
    )


def broker_errors() -> tuple[type[Exception], ...]:
    """Errors from Redis or kombu when a request itself talks to the broker."""
    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, kombu.exceptions.OperationalError)


def cause(exc: BaseException) -> str:
    """The driver's own first line: SQLAlchemy's message would add the statement and its parameters."""
    error = getattr(exc, "orig", None) or exc
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def outage_response(exc: BaseException, service: str, message: str):
    outages_log.error(
        "service unavailable",
        extra={"status": 503, "service": service, "method": request.method, "path": request.path, "error": cause(exc)},
    )
    unavailable = ServiceUnavailable(description=message, retry_after=RETRY_AFTER_SECONDS)
    if request.path.startswith(API_PREFIX):
        response = render_error(unavailable)
    else:
        # Straight from the Jinja environment: render_template's context
        # processors would ask the database who is logged in (Flask-Login).
        page = current_app.jinja_env.get_template("outage.html").render(message=message, request_id=g.request_id)
        response = make_response(page, 503)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def database_outage(exc: BaseException):
    return outage_response(exc, "database", DATABASE_MESSAGE)


def broker_outage(exc: BaseException):
    return outage_response(exc, "broker", BROKER_MESSAGE)


def register_outage_handlers(app: Flask) -> None:
    """More specific than the catch-all Exception handler, so these win for their classes."""
    for error in database_errors():
        app.register_error_handler(error, database_outage)
    for error in broker_errors():
        app.register_error_handler(error, broker_outage)


def end_session(exc: BaseException | None = None) -> None:
    """Remove the request's session; a connection Postgres dropped meanwhile is logged, never raised to gunicorn.

    Closing the session sends a ROLLBACK, after the response is built and
    after Flask's error handlers: a backend ended by a failover or maintenance
    would raise there and become gunicorn's bare 500. SQLAlchemy invalidates
    the dead connection (the pool opens a new one), and the response stands.
    Registered after `db.init_app`, so it runs before Flask-SQLAlchemy's own
    teardown, which then finds no session to remove.
    """
    try:
        db.session.remove()
    except database_errors() as error:
        outages_log.warning(
            "database connection lost at the end of the request; discarded", extra={"error": cause(error)}
        )
        db.session.remove()  # the failed close ended the transaction; this forgets the session
