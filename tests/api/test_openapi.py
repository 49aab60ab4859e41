"""The OpenAPI document describes what the API does, and the docs page shows it."""

import pytest

PUBLIC = {
    ("post", "/api/v1/users"),
    ("post", "/api/v1/tokens"),
    ("get", "/api/v1/home"),
    ("get", "/api/v1/docs"),
    ("post", "/api/v1/password-reset"),
    ("post", "/api/v1/password-reset/confirm"),
}
EXPECTED = {
    ("post", "/api/v1/users"),
    ("get", "/api/v1/users/me"),
    ("get", "/api/v1/users/{user_id}"),
    ("post", "/api/v1/tokens"),
    ("delete", "/api/v1/tokens"),
    ("get", "/api/v1/products"),
    ("get", "/api/v1/products/{product_id}"),
    ("get", "/api/v1/purchases"),
    ("post", "/api/v1/purchases"),
    ("get", "/api/v1/purchases/{purchase_id}"),
    ("post", "/api/v1/password-reset"),
    ("post", "/api/v1/password-reset/confirm"),
}


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.is_json
    return response.get_json()


def operations(spec):
    return {
        (method, path): op
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method != "parameters"
    }


def test_every_endpoint_is_described(spec):
    assert spec["openapi"].startswith("3.") and spec["info"]["title"] == "Blasto"
    assert set(operations(spec)) >= EXPECTED


def test_token_endpoints_declare_bearer_auth_and_401(spec):
    for key, op in operations(spec).items():
        if key in PUBLIC:
            continue
        assert op.get("security") == [{"bearerAuth": []}], key
        assert "401" in op["responses"], key
    assert operations(spec)[("post", "/api/v1/tokens")]["security"] == [{"basicAuth": []}]
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["scheme"] == "bearer" and schemes["basicAuth"]["scheme"] == "basic"


def test_errors_are_documented_with_the_shape_they_have(spec):
    error = spec["components"]["schemas"]["Error"]
    assert {"error", "message"} <= set(error["required"]) and "errors" in error["properties"]
    purchase = operations(spec)[("post", "/api/v1/purchases")]
    assert {"201", "401", "409", "415", "422"} <= set(purchase["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in purchase["parameters"])
    listing = operations(spec)[("get", "/api/v1/purchases")]
    assert {p["name"] for p in listing["parameters"]} >= {"page", "per_page"}


def test_docs_page_lists_every_operation(client, spec):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    for method, path in EXPECTED:
        assert f"{method.upper()} {path}" in html
    assert "<script" not in html, "no third-party script: works offline and under a strict CSP"


def test_the_password_reset_is_described_with_its_answers(spec):
    asking = operations(spec)[("post", "/api/v1/password-reset")]
    assert {"202", "415", "422", "429"} <= set(asking["responses"]) and "security" not in asking
    confirming = operations(spec)[("post", "/api/v1/password-reset/confirm")]
    assert {"204", "400", "415", "422"} <= set(confirming["responses"])
    body = confirming["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PasswordResetConfirm"}
    assert set(spec["components"]["schemas"]["PasswordResetConfirm"]["required"]) == {"token", "password"}
