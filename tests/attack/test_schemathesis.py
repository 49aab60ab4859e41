"""The JSON API against its own OpenAPI document, fuzzed by schemathesis on Postgres.

Schemathesis reads /api/v1/openapi.json and, for every operation in it, sends
generated requests (examples, boundary "coverage" cases, then random valid and
invalid ones) to an app on a real Postgres database. Every response must not
be a 5xx and must match what the document promises: status code, content type
and body schema. Requests carry real bearer tokens (an admin's under /reports,
so those operations get past the 403). The run is deterministic (fixed seed,
derandomized): CI sees the same cases every time.

The document is read at collection from an app that never touches a database
(one test per operation, so a new operation is covered without editing this
file); the requests go to the Postgres app. schemathesis's
`pytest.from_fixture` would do both at once, but in 4.32 it sets pytest's
private `_nodeid`, which pytest 9.2 no longer has.

The test also takes one pytest parameter (the database), as schemathesis's
own tests combine the two: its items are then named `test[METHOD path][postgresql]`,
one node id per operation. Without it, on pytest 9.2, every operation gets the
function's bare node id, and xdist, which tells tests apart by node id, would
run only one of them.
"""

from __future__ import annotations

import base64

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from blasto.core.extensions import db
from blasto.models import ApiToken
from tests.attack.routes import routing_app
from tests.attack.world import promote
from tests.support.factories import PASSWORD

MIN_CASES = 1000
SEED = 20260611
# Fuzzed cases per operation (examples and coverage cases come on top).
# Sign-up and token requests hash a password with scrypt, on purpose slow.
DEFAULT_EXAMPLES = 120
FEWER = {("POST", "/api/v1/users"): 15, ("POST", "/api/v1/tokens"): 15}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        # "This generator is slow / filters a lot" says nothing about the app, and
        # would make the outcome depend on the machine's speed.
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large", "large_base_example"],
        "generation": {"deterministic": True, "max-examples": DEFAULT_EXAMPLES, "database": "none"},
        "phases": {"stateful": {"enabled": False}},
        "operations": [
            {"include-method": method, "include-path": path, "generation": {"max-examples": count}}
            for (method, path), count in FEWER.items()
        ],
    }
)
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", routing_app(), config=CONFIG)
OPERATIONS = {(op.method.upper(), op.path): op for op in (result.ok() for result in schema.get_all_operations())}


class Accounts:
    """A shopper and an admin, with real tokens from POST /api/v1/tokens."""

    def __init__(self, app):
        self.app = app
        client = app.test_client()
        self.shopper = self._account(client, "fuzz-shopper@example.com")
        self.admin = self._account(client, "fuzz-admin@example.com", admin=True)

    def _account(self, client, email: str, admin: bool = False) -> dict:
        created = client.post("/api/v1/users", json={"email": email, "password": PASSWORD, "name": "Fuzz"})
        assert created.status_code == 201, created.get_data(as_text=True)
        if admin:
            promote(self.app, created.get_json()["id"])
        basic = "Basic " + base64.b64encode(f"{email}:{PASSWORD}".encode()).decode()
        issued = client.post("/api/v1/tokens", headers={"Authorization": basic})
        assert issued.status_code == 201, issued.get_data(as_text=True)
        return {"id": created.get_json()["id"], "basic": basic, "token": issued.get_json()["token"]}

    def fresh_token(self, user_id: int) -> str:
        """A token of its own, for a case that revokes the token it presents."""
        with self.app.app_context():
            token, plaintext = ApiToken.issue(user_id)
            db.session.add(token)
            db.session.commit()
        return plaintext

    def authorization(self, method: str, path: str) -> str | None:
        security = {
            name
            for requirement in OPERATIONS[(method, path)].definition.raw.get("security", [])
            for name in requirement
        }
        if "basicAuth" in security:
            return self.shopper["basic"]
        if "bearerAuth" not in security:
            return None
        if (method, path) == ("DELETE", "/api/v1/tokens"):
            return f"Bearer {self.fresh_token(self.shopper['id'])}"
        user = self.admin if path.startswith("/api/v1/reports") else self.shopper
        return f"Bearer {user['token']}"


@pytest.fixture(scope="module")
def accounts(module_pg_shop):
    return Accounts(module_pg_shop)


@pytest.fixture(scope="module")
def sent():
    """Cases sent, per operation; once every operation ran, they must add up to MIN_CASES."""
    counts: dict[tuple[str, str], int] = {}
    yield counts
    if set(counts) == set(OPERATIONS):
        assert sum(counts.values()) >= MIN_CASES, (
            f"only {sum(counts.values())} cases ran ({counts}); raise max-examples"
        )


@schema.parametrize()
@pytest.mark.parametrize("database", ["postgresql"])
def test_every_operation_answers_as_documented_and_never_with_a_5xx(case, database, module_pg_shop, accounts, sent):
    assert module_pg_shop.config["SQLALCHEMY_DATABASE_URI"].startswith(database)
    key = (case.operation.method.upper(), case.operation.path)
    sent[key] = sent.get(key, 0) + 1
    authorization = accounts.authorization(*key)
    if authorization:
        case.headers = {**(case.headers or {}), "Authorization": authorization}
    case.call_and_validate(checks=CHECKS, app=module_pg_shop)
