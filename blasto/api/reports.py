"""Sales reports for admins: ask for one (202), poll it, fetch its files.

The build runs on the worker; the 202's `Location` is the report's status
resource, which says its state and progress and, once done, links to the
CSVs and the chart. Asking for a range that is already being built answers
with that report instead of starting a second build.
"""

from __future__ import annotations

import functools

from flask import g, jsonify, request
from flask_smorest import Blueprint, abort
from sqlalchemy import select

from blasto.api import URL_PREFIX
from blasto.api.auth import token_auth
from blasto.api.json_body import require_json_body
from blasto.api.report_schemas import ReportCreateSchema, ReportSchema
from blasto.core.extensions import db
from blasto.models import User
from blasto.models.base import ID_CONVERTER
from blasto.reports.asking import ask_for_report
from blasto.reports.files import FILES, file_response, live_report, status
from blasto.reports.ranges import DateRange

blp = Blueprint("reports", __name__, url_prefix=f"{URL_PREFIX}/reports", description="Sales reports (admins only)")
blp.before_request(require_json_body)
FILE_NAMES = ", ".join(FILES)


def reports_root() -> str:
    return f"{request.script_root}{URL_PREFIX}/reports/"


def report_json(report) -> dict:
    root = f"{reports_root()}{report.id}"
    return {**status(report, lambda name: f"{root}/{name}"), "_links": {"self": root}}


def admins_only(view):
    """After token_auth, before the body is read: a non-admin learns nothing about reports or their rules."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not db.session.scalar(select(User.is_admin).where(User.id == g.user_id)):
            abort(403, message="Only admins can ask for or read sales reports.")
        return view(*args, **kwargs)

    return blp.alt_response(403, response="FORBIDDEN")(wrapper)


CREATED_HEADERS = {
    "Location": {"description": "The report's status resource; poll it", "schema": {"type": "string"}},
    "Report-Reused": {
        "description": "`true` when a report for these days was already queued or running and is answered instead",
        "schema": {"type": "string", "enum": ["true"]},
    },
}


@blp.post("")
@token_auth(blp)
@admins_only
@blp.arguments(ReportCreateSchema)
@blp.alt_response(
    202,
    schema=ReportSchema,
    success=True,
    headers=CREATED_HEADERS,
    description="The report, queued (or the one already being built for these days)",
)
@blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
def create_report(body):
    """Ask for a sales report over a range of days; the worker builds it."""
    report, created = ask_for_report(DateRange(body["first"], body["last"]), g.user_id)
    response = jsonify(report_json(report))
    response.status_code = 202
    response.headers["Location"] = f"{reports_root()}{report.id}"
    if not created:
        response.headers["Report-Reused"] = "true"
    return response


@blp.get(f"/<{ID_CONVERTER}:report_id>")
@token_auth(blp)
@admins_only
@blp.alt_response(
    200,
    schema=ReportSchema,
    success=True,
    description="State, progress and, once done, the summary and links to the files",
)
@blp.alt_response(404, response="NOT_FOUND")
def get_report(report_id: int):
    """A report's state and progress; poll it until `state` is done or failed."""
    report = live_report(report_id)
    if report is None:
        abort(404, message=f"There is no report {report_id} (reports expire).")
    response = jsonify(report_json(report))
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.get(f"/<{ID_CONVERTER}:report_id>/<any({FILE_NAMES}):name>")
@token_auth(blp)
@admins_only
@blp.doc(
    responses={
        "200": {
            "description": "The file: chart.png, days.csv or books.csv",
            "content": {
                "image/png": {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    }
)
@blp.alt_response(404, response="NOT_FOUND")
def get_report_file(report_id: int, name: str):
    """One of a finished report's files."""
    response = file_response(report_id, name)
    if response is None:
        abort(404, message=f"Report {report_id} has no {name}: it is unknown, not done yet, or expired.")
    return response
