"""The outermost answer to an exception that escaped Flask: the app's own 503 or 500, never gunicorn's bare page.

Flask answers errors through the handlers in blasto.web.errors; what can still
escape is raised after them or by them (a teardown, a handler that fails
too). gunicorn would answer that with its own HTML 500: no JSON under the
API, no request id, no security headers. This layer sits inside the
request-id and security-header middlewares (blasto.web.middleware) and answers with a body built
without Flask, which may be what failed: a database or broker outage is the
usual 503 with Retry-After, anything else the usual 500.
"""

from __future__ import annotations

import json
import logging
import sys

from flask import Flask
from markupsafe import escape
from werkzeug.http import HTTP_STATUS_CODES

from blasto.core.logs import request_id_var
from blasto.web.errors import (
    API_PREFIX,
    BROKER_MESSAGE,
    DATABASE_MESSAGE,
    GENERIC_500,
    RETRY_AFTER_SECONDS,
    broker_errors,
    cause,
    database_errors,
)

outages_log = logging.getLogger("blasto.outages")
errors_log = logging.getLogger("blasto.errors")

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{code} {name} · Blasto books</title></head>
<body>
<h1>{code} · {name}</h1>
<p>{message}</p>
<p><a href="/home">Back to the shop</a></p>
<p>Request {request_id}</p>
</body>
</html>
"""


class LastResortMiddleware:
    """Answers an exception from the inner WSGI app, unless the app propagates exceptions (tests, debug)."""

    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        started = False

        def start_and_note(status, headers, exc_info=None):
            nonlocal started
            started = True
            return start_response(status, headers, exc_info)

        try:
            return self.wsgi_app(environ, start_and_note)
        except Exception as exc:
            if self.propagates():
                raise
            status, headers, body = last_resort_response(environ, exc)
            # PEP 3333: a response the app started (its headers not yet sent) is replaced by passing exc_info.
            start_response(status, headers, sys.exc_info() if started else None)
            return [body]

    def propagates(self) -> bool:
        """Flask's own rule for PROPAGATE_EXCEPTIONS (unset: testing or debug)."""
        propagate = self.app.config["PROPAGATE_EXCEPTIONS"]
        return bool(self.app.testing or self.app.debug) if propagate is None else bool(propagate)


def last_resort_response(environ, exc: Exception) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status, headers, body) for `exc`, shaped for the API or a browser, and logged once."""
    method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")
    outage = {"method": method, "path": path, "error": cause(exc)}
    if isinstance(exc, database_errors()):
        code, slug, message = 503, "service_unavailable", DATABASE_MESSAGE
        outages_log.error("service unavailable", extra={"status": code, "service": "database", **outage})
    elif isinstance(exc, broker_errors()):
        code, slug, message = 503, "service_unavailable", BROKER_MESSAGE
        outages_log.error("service unavailable", extra={"status": code, "service": "broker", **outage})
    else:
        code, slug, message = 500, "internal_server_error", GENERIC_500
        errors_log.error("unhandled exception", exc_info=exc, extra={"status": code, "method": method, "path": path})
    name, request_id = HTTP_STATUS_CODES[code], request_id_var.get()
    if path.startswith(API_PREFIX):
        content_type = "application/json"
        body = json.dumps({"error": slug, "message": message, "request_id": request_id}).encode()
    else:
        content_type = "text/html; charset=utf-8"
        body = PAGE.format(code=code, name=name, message=escape(message), request_id=escape(request_id or "")).encode()
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")]
    if code == 503:
        headers.append(("Retry-After", str(RETRY_AFTER_SECONDS)))
    return f"{code} {name}", headers, body
