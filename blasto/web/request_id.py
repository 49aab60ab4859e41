"""Request ids: Heroku's X-Request-Id when sane, else a fresh one.

One WSGI middleware sets the id for the whole request: in the logging context
(so every log line carries it) and in the response header (so gunicorn's
access line and the client see it). `g.request_id` reads it.
A client-supplied id is only trusted when short and plain, so it can never
inject text into a log line. A middleware rather than Flask hooks, so that the
responses Flask never sees (the last-resort error page) carry it too.
"""

from __future__ import annotations

import re
import uuid

from flask.ctx import _AppCtxGlobals

from blasto.core.logs import request_id_var, tagged

HEADER = "X-Request-Id"
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:@+/=-]{1,200}$")


def incoming_request_id(value: str | None) -> str:
    if value and _ACCEPTABLE.match(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        request_id = incoming_request_id(environ.get("HTTP_X_REQUEST_ID"))
        header = (HEADER, request_id)

        def start_with_id(status, headers, exc_info=None):
            headers.append(header)
            return start_response(status, headers, exc_info)

        with tagged(request_id):
            return self.wsgi_app(environ, start_with_id)


class RequestGlobals(_AppCtxGlobals):
    """`g` with `g.request_id`: the current request's id (None outside one)."""

    @property
    def request_id(self) -> str | None:
        return request_id_var.get()
