"""Request ids: Heroku's X-Request-Id when sane, else a fresh one.

The id is kept on `g`, in the logging context and in the response header, so
router logs, app logs, gunicorn's access line and worker logs can be joined.
A client-supplied id is only trusted when short and plain, so it can never
inject text into a log line.
"""
from __future__ import annotations

import re
import uuid

from flask import Flask, g, request

from blasto.logs import request_id_var

HEADER = "X-Request-Id"
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:@+/=-]{1,200}$")


def incoming_request_id(value: str | None) -> str:
    if value and _ACCEPTABLE.match(value):
        return value
    return uuid.uuid4().hex


def register_request_hooks(app: Flask) -> None:
    @app.before_request
    def assign_request_id():
        g.request_id = incoming_request_id(request.headers.get(HEADER))
        g.request_id_token = request_id_var.set(g.request_id)

    @app.after_request
    def return_request_id(response):
        request_id = g.get("request_id")
        if request_id:
            response.headers[HEADER] = request_id
        return response

    @app.teardown_request
    def forget_request_id(_exc=None):
        token = g.pop("request_id_token", None)
        if token is not None:
            request_id_var.reset(token)
