"""Postgres or Redis unreachable: a 503 with Retry-After, never a 500.

An outage is not a bug: the client did nothing wrong and should come back
soon, which is what 503 + Retry-After says (the API gets the usual JSON
error body, a browser a plain page). Nothing here holds state, so when the
service returns the next request simply works: SQLAlchemy's pool replaces
the connections the failure invalidated, and redis-py and kombu reconnect.

The page is its own template, rendered without the context processors: the
layout asks the database who is logged in, which cannot be done right now.
"""
from __future__ import annotations

import logging

from flask import Flask, current_app, g, make_response, request
from werkzeug.exceptions import ServiceUnavailable

log = logging.getLogger("blasto.outages")

RETRY_AFTER_SECONDS = 30
DATABASE_MESSAGE = "We can't reach our database right now; try again in a minute."
BROKER_MESSAGE = "We can't reach our task queue right now; try again in a minute."


def database_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean "the database is unreachable or refused us for now".

    SQLAlchemy wraps psycopg's OperationalError (refused, reset, server shut
    down, too many connections); DisconnectionError comes from the pool's ping;
    TimeoutError is the pool waiting in vain for a connection.
    """
    import psycopg
    from sqlalchemy import exc

    return (exc.OperationalError, exc.DisconnectionError, exc.TimeoutError, psycopg.OperationalError)


def broker_errors() -> tuple[type[BaseException], ...]:
    """Errors from Redis or kombu when a request itself talks to the broker."""
    import kombu.exceptions
    import redis.exceptions

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, kombu.exceptions.OperationalError)


def cause(exc: BaseException) -> str:
    """The driver's own first line: SQLAlchemy's message would add the statement and its parameters."""
    error = getattr(exc, "orig", None) or exc
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def outage_response(exc: BaseException, service: str, message: str):
    from blasto.web.errors import API_PREFIX, render_error

    log.error(
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
