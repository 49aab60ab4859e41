"""A WSGI app that answers with its own worker's garbage collector state, served by the Procfile's web line."""

from __future__ import annotations

import gc
import json
import os


def app(environ, start_response):
    body = json.dumps(
        {"pid": os.getpid(), "parent": os.getppid(), "enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
