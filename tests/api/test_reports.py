"""Sales reports through the API: admins ask (202), poll, and fetch the files once built."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from blasto.core.extensions import db
from blasto.models import ApiToken, Product, Report, User
from blasto.models.base import MAX_ID, utcnow
from blasto.models.purchase import ADMIN
from blasto.models.report import DONE, FAILED, QUEUED
from blasto.reports.building import build
from blasto.reports.ranges import MAX_DAYS
from blasto.shop.orders import PAY, move
from tests.support.api_client import assert_error, bearer
from tests.support.report_databases import PNG_MAGIC, queued_builds, sqlite_copy

REPORTS = "/api/v1/reports"
SPAN = {"from": "2024-03-01", "to": "2024-03-31"}


@pytest.fixture
def db_app(app_factory, sqlite_template, tmp_path):
    """The conftest's migrated SQLite app, from a copy of a file migrated once per session."""
    sqlite_copy(sqlite_template, tmp_path)
    return app_factory()


def bearer_user(email: str, is_admin: bool = False) -> dict:
    """An account and a token for it, written directly: signing up through the API is tested elsewhere."""
    user = User(email=email, name="Someone", password_hash="!no-password", is_admin=is_admin)
    db.session.add(user)
    db.session.flush()
    token, plaintext = ApiToken.issue(user.id)
    db.session.add(token)
    db.session.commit()
    return {"id": user.id, "token": plaintext, "headers": bearer(plaintext)}


@pytest.fixture
def admin(api):
    return bearer_user("admin@example.com", is_admin=True)


@pytest.fixture
def reader(api):
    return bearer_user("reader@example.com")


def ask(api, user, body=SPAN, **kwargs):
    return api.http.post(REPORTS, json=body, headers=user["headers"] if user else None, **kwargs)


def report_count() -> int:
    found = db.session.scalar(select(func.count()).select_from(Report))
    db.session.rollback()
    return found


def today() -> date:
    return datetime.now(UTC).date()


# -- a small validator for the OpenAPI document's schemas ---------------------------------

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def conforms(spec: dict, schema: dict, value, where: str = "$") -> list[str]:
    """What in `value` the OpenAPI 3.0 `schema` does not allow (empty: it conforms)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return conforms(spec, spec["components"]["schemas"][name], value, where)
    if "allOf" in schema:
        return [p for part in schema["allOf"] for p in conforms(spec, part, value, where)]
    if "anyOf" in schema:
        # apispec writes "null or <schema>" as anyOf [{type: object, nullable: true}, {$ref}]
        # (OpenAPI 3.0 cannot put nullable beside $ref): that first branch stands for null only.
        parts = [
            {"nullable": True, "enum": [None]} if part == {"type": "object", "nullable": True} else part
            for part in schema["anyOf"]
        ]
        attempts = [conforms(spec, part, value, where) for part in parts]
        return [] if any(not a for a in attempts) else [f"{where}: matches none of anyOf: {attempts}"]
    if value is None:
        return [] if schema.get("nullable") else [f"{where}: null is not allowed"]
    kind = schema.get("type")
    if kind == "integer" and not (isinstance(value, int) and not isinstance(value, bool)):
        return [f"{where}: {value!r} is not an integer"]
    if kind in _TYPES and not isinstance(value, _TYPES[kind]):
        return [f"{where}: {value!r} is not of type {kind}"]
    problems = []
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if schema.get("format") == "date" and not _DATE.match(value):
        problems.append(f"{where}: {value!r} is not a date")
    if schema.get("format") == "date-time" and not _DATE_TIME.match(value):
        problems.append(f"{where}: {value!r} is not a date-time")
    if kind == "object":
        properties = schema.get("properties", {})
        problems += [f"{where}: {name} is required" for name in schema.get("required", ()) if name not in value]
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                problems += conforms(spec, properties[name], item, f"{where}.{name}")
            elif extra is False:
                problems.append(f"{where}: {name} is not declared")
            elif isinstance(extra, dict):
                problems += conforms(spec, extra, item, f"{where}.{name}")
    if kind == "array":
        for index, item in enumerate(value):
            problems += conforms(spec, schema.get("items", {}), item, f"{where}[{index}]")
    return problems


@pytest.fixture
def spec(api):
    response = api.http.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def assert_documented(spec, path: str, method: str, status: int, response) -> None:
    """The response's body is what the document declares for this operation and status."""
    declared = spec["paths"][path][method]["responses"][str(status)]
    schema = declared["content"]["application/json"]["schema"]
    assert conforms(spec, schema, response.get_json()) == []


# -- who may ---------------------------------------------------------------------------------


def test_every_report_endpoint_needs_a_token(api):
    for response in (
        api.http.post(REPORTS, json=SPAN),
        api.http.get(f"{REPORTS}/1"),
        api.http.get(f"{REPORTS}/1/chart.png"),
        api.http.get(f"{REPORTS}/1/books.csv", headers={"Authorization": "Bearer not-a-token"}),
    ):
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert report_count() == 0


def test_shoppers_get_403_on_every_report_endpoint_and_learn_nothing(api, admin, reader):
    report_id = ask(api, admin).get_json()["id"]
    for response in (
        ask(api, reader),
        ask(api, reader, {"from": "nonsense"}),  # not even what is wrong with the body
        api.get(f"{REPORTS}/{report_id}", reader),
        api.get(f"{REPORTS}/{report_id + 1}", reader),  # nor which reports exist
        api.get(f"{REPORTS}/{report_id}/days.csv", reader),
    ):
        body = assert_error(response, 403, "forbidden")
        assert "admin" in body["message"]
        assert "errors" not in body
    assert report_count() == 1


# -- asking ----------------------------------------------------------------------------------


def test_asking_answers_202_with_the_location_of_a_documented_status(api, admin, spec, tmp_path):
    response = ask(api, admin)
    assert response.status_code == 202
    body = response.get_json()
    assert response.headers["Location"].endswith(f"{REPORTS}/{body['id']}")
    assert "Report-Reused" not in response.headers
    assert body["state"] == QUEUED and body["progress"] == 0 and body["attempts"] == 0
    assert (body["from"], body["to"]) == (SPAN["from"], SPAN["to"])
    assert body["summary"] is None and body["files"] == {} and body["error"] is None
    assert body["_links"]["self"].endswith(f"{REPORTS}/{body['id']}")
    assert_documented(spec, "/api/v1/reports", "post", 202, response)
    assert [report for report, _ in queued_builds(tmp_path)] == [body["id"]]

    polled = api.get(response.headers["Location"], admin)
    assert polled.status_code == 200 and polled.headers["Cache-Control"] == "no-store"
    assert polled.get_json() == body
    assert_documented(spec, "/api/v1/reports/{report_id}", "get", 200, polled)


def test_asking_again_while_it_is_built_gives_the_same_report(api, admin, tmp_path):
    first = ask(api, admin)
    again = ask(api, admin)
    assert again.status_code == 202
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Report-Reused"] == "true"
    assert report_count() == 1 and len(queued_builds(tmp_path)) == 1


def test_the_202_documents_its_headers(spec):
    headers = spec["paths"]["/api/v1/reports"]["post"]["responses"]["202"].get("headers", {})
    assert {"Location", "Report-Reused"} <= set(headers)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "from", "Missing data"),
        ({"to": "2024-03-01"}, "from", "Missing data"),
        ({"from": "2024-03-01"}, "to", "Missing data"),
        ({"from": "2024-03-02", "to": "2024-03-01"}, "to", "swap"),
        (
            {"from": "2020-01-01", "to": (date(2020, 1, 1) + timedelta(days=MAX_DAYS)).isoformat()},
            "to",
            f"at most {MAX_DAYS} days",
        ),
        ({"from": "0001-01-01", "to": "0001-01-02"}, "from", "1970-01-01 or later"),
        ({"from": "2024-13-45", "to": "2024-03-01"}, "from", "Not a valid date"),
        ({"from": "01/03/2024", "to": "2024-03-01"}, "from", "Not a valid date"),
        ({"from": "yesterday", "to": "2024-03-01"}, "from", "Not a valid date"),
        ({"from": "2024-03-01T00:00:00", "to": "2024-03-02"}, "from", "Not a valid date"),
        ({"from": 20240301, "to": "2024-03-02"}, "from", "Not a valid date"),
        ({"from": None, "to": "2024-03-02"}, "from", "null"),
        ({"from": ["2024-03-01"], "to": "2024-03-02"}, "from", "Not a valid date"),
        ({**SPAN, "format": "xlsx"}, "format", "Unknown field"),
        ({**SPAN, "requested_by_id": 1}, "requested_by_id", "Unknown field"),
    ],
)
@pytest.mark.sweep
def test_a_bad_range_is_422_naming_the_field(api, admin, body, field, words):
    error = assert_error(ask(api, admin, body), 422, "unprocessable_entity")
    assert words in str(error["errors"]["json"][field]), error
    assert report_count() == 0


def test_a_range_in_the_future_is_422(api, admin):
    start = today() + timedelta(days=3)
    error = assert_error(
        ask(api, admin, {"from": start.isoformat(), "to": (start + timedelta(days=1)).isoformat()}), 422
    )
    assert "future" in str(error["errors"]["json"]["from"])
    assert ask(api, admin, {"from": today().isoformat(), "to": today().isoformat()}).status_code == 202


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"data": "from=2024-03-01&to=2024-03-31", "content_type": "application/x-www-form-urlencoded"}, 415),
        ({"data": "2024-03-01..2024-03-31", "content_type": "text/plain"}, 415),
        ({"data": "{oops", "content_type": "application/json"}, 400),
        ({"data": "[]", "content_type": "application/json"}, 422),
        ({"data": "null", "content_type": "application/json"}, 422),
        ({"data": '"2024-03-01"', "content_type": "application/json"}, 422),
    ],
)
def test_bodies_that_are_not_a_range(api, admin, kwargs, status):
    assert_error(api.http.post(REPORTS, headers=admin["headers"], **kwargs), status)
    assert report_count() == 0


# -- reading -----------------------------------------------------------------------------------


def test_files_are_404_until_the_report_is_done(api, admin):
    report_id = ask(api, admin).get_json()["id"]
    for name in ("chart.png", "days.csv", "books.csv"):
        body = assert_error(api.get(f"{REPORTS}/{report_id}/{name}", admin), 404, "not_found")
        assert "not done yet" in body["message"]


def test_once_built_the_status_has_a_summary_and_links_to_the_files(api, admin, spec):
    db.session.add(
        Product(title="=cmd|' /C calc'!A0", author="Mallory", description="A book.", price_cents=1250, stock=9)
    )
    db.session.add(Product(title="Emma", author="Jane Austen", description="A book.", price_cents=1199, stock=9))
    db.session.commit()
    ids = db.session.scalars(select(Product.id).order_by(Product.id)).all()
    first = api.buy(admin, [{"product_id": ids[0], "quantity": 2}, {"product_id": ids[1], "quantity": 1}])
    second = api.buy(admin, [{"product_id": ids[1], "quantity": 3}])
    unpaid = api.buy(admin, [{"product_id": ids[0], "quantity": 1}])
    assert (first.status_code, second.status_code, unpaid.status_code) == (201, 201, 201)
    for paid in (first, second):  # only money that came in is a sale; the unpaid order is not counted
        move(paid.get_json()["id"], PAY, ADMIN)
    day = today().isoformat()
    report_id = ask(api, admin, {"from": day, "to": day}).get_json()["id"]

    assert build(report_id) == DONE
    response = api.get(f"{REPORTS}/{report_id}", admin)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["state"], body["progress"], body["error"]) == (DONE, 100, None)
    assert body["finished_at"] and body["expires_at"] > body["finished_at"]
    summary = body["summary"]
    assert (summary["orders"], summary["units"], summary["revenue_cents"]) == (2, 6, 2 * 1250 + 4 * 1199)
    assert summary["best_day"] == {"date": day, "revenue_cents": 2 * 1250 + 4 * 1199}
    assert [book["title"] for book in summary["top_books"]] == ["Emma", "=cmd|' /C calc'!A0"]
    assert_documented(spec, "/api/v1/reports/{report_id}", "get", 200, response)

    files = body["files"]
    assert set(files) == {"chart", "days_csv", "books_csv"}
    chart = api.get(files["chart"], admin)
    assert chart.status_code == 200 and chart.mimetype == "image/png" and chart.data.startswith(PNG_MAGIC)
    assert chart.headers["X-Content-Type-Options"] == "nosniff"
    days = api.get(files["days_csv"], admin)
    assert days.status_code == 200 and days.mimetype == "text/csv"
    assert "attachment" in days.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(days.get_data(as_text=True))))
    assert rows == [["date", "orders", "units", "revenue_usd"], [day, "2", "6", "72.96"]]
    books = api.get(files["books_csv"], admin)
    assert books.status_code == 200 and books.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(books.get_data(as_text=True))))
    assert rows[0] == ["rank", "book_id", "title", "author", "units", "revenue_usd"]
    assert rows[1][2] == "Emma" and rows[2][2] == "'=cmd|' /C calc'!A0"  # a spreadsheet will not run it


def test_a_failed_report_says_why_and_has_no_files(api, admin, spec):
    report_id = ask(api, admin).get_json()["id"]
    db.session.execute(
        update(Report)
        .where(Report.id == report_id)
        .values(state=FAILED, error="The build failed 3 times; the last error was X", attempts=3)
    )
    db.session.commit()
    response = api.get(f"{REPORTS}/{report_id}", admin)
    body = response.get_json()
    assert (body["state"], body["error"], body["files"], body["summary"]) == (
        FAILED,
        "The build failed 3 times; the last error was X",
        {},
        None,
    )
    assert_documented(spec, "/api/v1/reports/{report_id}", "get", 200, response)
    assert_error(api.get(f"{REPORTS}/{report_id}/chart.png", admin), 404)
    again = ask(api, admin)
    assert again.status_code == 202 and again.get_json()["id"] != report_id and "Report-Reused" not in again.headers


def test_an_expired_report_is_gone(api, admin):
    report_id = ask(api, admin).get_json()["id"]
    db.session.execute(
        update(Report)
        .where(Report.id == report_id)
        .values(state=DONE, progress=100, days_csv="date\r\n", expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    body = assert_error(api.get(f"{REPORTS}/{report_id}", admin), 404, "not_found")
    assert "expire" in body["message"]
    assert_error(api.get(f"{REPORTS}/{report_id}/days.csv", admin), 404)


@pytest.mark.parametrize(
    "path", ["0", str(MAX_ID + 1), "-1", "abc", "1.0", "99", "1/unknown.txt", "1/chart.PNG", "1/../1"]
)
@pytest.mark.sweep
def test_unknown_reports_and_files_are_404(api, admin, path):
    ask(api, admin)
    assert_error(api.get(f"{REPORTS}/{path}", admin), 404)


def test_the_openapi_document_lists_the_report_endpoints(spec):
    paths = spec["paths"]
    assert "post" in paths["/api/v1/reports"]
    assert "get" in paths["/api/v1/reports/{report_id}"]
    files = paths["/api/v1/reports/{report_id}/{name}"]
    assert {"image/png", "text/csv"} <= set(files["get"]["responses"]["200"]["content"])
    name = next(p for p in files["parameters"] if p["name"] == "name")
    assert set(name["schema"]["enum"]) == {"chart.png", "days.csv", "books.csv"}
    for operation in (paths["/api/v1/reports"]["post"], paths["/api/v1/reports/{report_id}"]["get"], files["get"]):
        assert operation["security"] == [{"bearerAuth": []}]
        assert {"401", "403"} <= set(operation["responses"])
    assert {"202", "415", "422"} <= set(paths["/api/v1/reports"]["post"]["responses"])
    body = spec["components"]["schemas"]["ReportCreate"]
    assert set(body["required"]) == {"from", "to"} and body["properties"]["from"]["format"] == "date"


def test_the_validator_catches_what_it_should(spec):
    """The validator above is no rubber stamp."""
    report = {"$ref": "#/components/schemas/Report"}
    assert conforms(spec, report, {"id": 1, "state": "queued", "progress": 0}) == []
    assert conforms(spec, report, {"id": "1"}) and conforms(spec, report, {"state": "lost"})
    assert conforms(spec, report, {"created_at": "yesterday"}) and conforms(spec, report, {"surprise": 1})
    assert conforms(spec, report, {"summary": {"orders": 1, "nope": 2}})
    assert conforms(spec, report, {"summary": None}) == []
