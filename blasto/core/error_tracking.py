"""Errors and failed tasks to Sentry when SENTRY_DSN is set; without it the SDK is not even imported.

Called from the app factory, so web, worker and clock (which all build the
one app) report alike. No shopper's data leaves: no request bodies, cookies,
query strings, client addresses, secret-bearing headers or local variables,
and e-mail addresses and URL passwords in messages are masked as in the logs.
"""

from __future__ import annotations

import logging
from typing import Any, cast
from urllib.parse import urlsplit

from flask import Flask

from blasto.core.logs import request_id_var, scrubbed

log = logging.getLogger(__name__)

# Request headers worth having on an error; every other one (Authorization,
# Cookie, X-Forwarded-For, Forwarded, Referer with its query...) is dropped.
SAFE_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "accept-language",
        "content-length",
        "content-type",
        "host",
        "user-agent",
        "x-forwarded-port",
        "x-forwarded-proto",
        "x-request-id",
        "x-request-start",
    }
)
# Labels set from our own settings, never from outside data; left as they are.
OWN_FIELDS = frozenset({"release", "environment", "server_name", "event_id", "sdk", "platform", "timestamp"})


def init_error_tracking(app: Flask) -> None:
    """Start the Sentry SDK for this process when the app's config has SENTRY_DSN; otherwise do nothing."""
    settings = app.config.get("ERROR_TRACKING")
    if not settings:
        return
    import sentry_sdk
    from sentry_sdk.integrations.argv import ArgvIntegration
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.flask import FlaskIntegration

    sentry_sdk.init(
        dsn=settings["dsn"],
        environment=settings["environment"],
        release=settings["release"],
        server_name=settings["server_name"],
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=cast(Any, without_personal_data),  # the SDK types the event as a TypedDict; it is a plain dict
        # Only what is named here: the auto-enabled Redis and SQLAlchemy ones
        # would put keys holding client addresses into breadcrumbs.
        auto_enabling_integrations=False,
        # Crons needs intervals of whole minutes; the sweeps run every few seconds.
        integrations=[FlaskIntegration(), CeleryIntegration(monitor_beat_tasks=False)],
        # A command line can hold an e-mail address (`flask create-admin EMAIL`).
        disabled_integrations=[ArgvIntegration],
    )
    log.info(
        "errors go to Sentry",
        extra={
            "sentry_host": urlsplit(settings["dsn"]).hostname,
            "environment": settings["environment"],
            "release": sentry_sdk.get_client().options["release"],  # the SDK's own guess when Heroku's is missing
        },
    )


def without_personal_data(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """`before_send`: keep what locates the bug, drop or mask what could name a shopper; tag the request id."""
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("cookies", "data", "query_string"):
            request.pop(key, None)
        if isinstance(request.get("url"), str):
            request["url"] = request["url"].split("?", 1)[0]
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {name: value for name, value in headers.items() if name.lower() in SAFE_HEADERS}
        if isinstance(request.get("env"), dict):
            request["env"].pop("REMOTE_ADDR", None)
    event.pop("user", None)
    request_id = request_id_var.get()
    if request_id:
        event.setdefault("tags", {})["request_id"] = request_id
    return {key: value if key in OWN_FIELDS else _masked(value) for key, value in event.items()}


def _masked(value: Any) -> Any:
    """Every string inside `value` with e-mail addresses and URL passwords masked (blasto.core.logs.scrubbed)."""
    if isinstance(value, str):
        return scrubbed(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_masked(item) for item in value]
    return value
