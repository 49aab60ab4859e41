"""Shapes of the reports resource (they also write its part of the OpenAPI document)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from blasto.models.report import STATES
from blasto.reports.ranges import EARLIEST, MAX_DAYS, RangeError, checked_range


class ReportCreateSchema(ma.Schema):
    first = fields.Date(
        required=True,
        data_key="from",
        metadata={
            "description": f"First day (UTC), YYYY-MM-DD; {EARLIEST.isoformat()} or later, and not after tomorrow"
        },
    )
    last = fields.Date(
        required=True,
        data_key="to",
        metadata={"description": f"Last day (UTC), included; at most {MAX_DAYS} days after `from`"},
    )

    @ma.validates_schema
    def range_is_sane(self, data, **kwargs):
        if "first" in data and "last" in data:
            try:
                checked_range(data["first"], data["last"])
            except RangeError as exc:
                raise ma.ValidationError(str(exc), field_name=exc.field) from None


class TopBookSchema(ma.Schema):
    rank = fields.Integer()
    book_id = fields.Integer()
    title = fields.String()
    author = fields.String()
    units = fields.Integer()
    revenue_cents = fields.Integer()


class BestDaySchema(ma.Schema):
    date = fields.Date()
    revenue_cents = fields.Integer()


class ReportSummarySchema(ma.Schema):
    first = fields.Date(data_key="from")
    last = fields.Date(data_key="to")
    days = fields.Integer()
    orders = fields.Integer()
    units = fields.Integer()
    revenue_cents = fields.Integer()
    currency = fields.String()
    best_day = fields.Nested(BestDaySchema, allow_none=True)
    top_books = fields.List(fields.Nested(TopBookSchema))


class ReportFilesSchema(ma.Schema):
    chart = fields.String(metadata={"description": "PNG chart: revenue per day and the top books"})
    days_csv = fields.String(metadata={"description": "CSV: orders, units and revenue per day"})
    books_csv = fields.String(metadata={"description": "CSV: units and revenue per book, best seller first"})


class ReportSchema(ma.Schema):
    id = fields.Integer()
    state = fields.String(validate=validate.OneOf(STATES))
    progress = fields.Integer(metadata={"description": "0 to 100"})
    first = fields.Date(data_key="from")
    last = fields.Date(data_key="to")
    attempts = fields.Integer(
        metadata={"description": "Builds started so far (a build whose worker died is started again)"}
    )
    error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(
        allow_none=True, metadata={"description": "After this the report and its files are gone"}
    )
    summary = fields.Nested(ReportSummarySchema, allow_none=True)
    files = fields.Nested(ReportFilesSchema, metadata={"description": "Links to the results, once done"})
    _links = fields.Dict(keys=fields.String(), values=fields.String())
