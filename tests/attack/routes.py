"""The app's routes and API document, known at collection time.

Parametrized tests need the list of routes before any fixture runs. It comes
from an app that never opens its database ("sqlite://", in memory); the tests
then send their requests to their own app on Postgres. A route added to the
app is therefore tested without editing any test.
"""

from __future__ import annotations

import re
from functools import cache

from blasto import create_app
from tests.attack.world import API_PREFIX, WEBHOOK_PREFIX, write_rules


@cache
def routing_app():
    return create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def write_routes() -> list[tuple[str, str]]:
    """(rule, method) of every state-changing route."""
    return [(rule.rule, method) for rule, method in write_rules(routing_app())]


def page_write_routes() -> list[tuple[str, str]]:
    """State-changing routes outside the API and the webhooks: each must demand a CSRF token."""
    return [(rule, method) for rule, method in write_routes() if not rule.startswith((API_PREFIX, WEBHOOK_PREFIX))]


def get_routes(prefix: str = "/") -> list[str]:
    """Rules answering GET under `prefix` (static files excluded)."""
    return sorted(
        rule.rule
        for rule in routing_app().url_map.iter_rules()
        if "GET" in rule.methods and rule.rule.startswith(prefix) and rule.endpoint != "static"
    )


def route_id(route) -> str:
    """ "POST /admin/books/<book_id>/edit" for a (rule, method) pair; converters left out."""
    text = " ".join(reversed(route)) if isinstance(route, tuple) else route
    return re.sub(r"<[^>:]+:([^>]+)>", r"<\1>", text)
