"""The form that asks for a sales report."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms.fields import DateField

from blasto.reports.ranges import DateRange, RangeError, checked_range


class ReportForm(FlaskForm):
    first = DateField("First day", id="report-from", description="Days are in UTC; both ends are included.")
    last = DateField("Last day", id="report-to")

    def checked(self) -> DateRange | None:
        """The range if the form is valid, else None with the errors set on the fields."""
        if not self.validate_on_submit():
            for name in ("first", "last"):
                field = getattr(self, name)
                if field.errors and field.raw_data and field.raw_data[0].strip():
                    field.errors[:] = ["Enter a date as YYYY-MM-DD."]
            if not self.first.raw_data or not (self.first.raw_data[0] or "").strip():
                self.first.errors[:] = ["Choose the first day of the report."]
            if not self.last.raw_data or not (self.last.raw_data[0] or "").strip():
                self.last.errors[:] = ["Choose the last day of the report."]
            return None
        try:
            return checked_range(self.first.data, self.last.data)
        except RangeError as exc:
            (self.first if exc.field == "from" else self.last).errors = [str(exc)]
            return None
