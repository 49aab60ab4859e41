"""Sales reports for admins: ask for one, watch it being built, read it, download it.

The report page renders the state it finds and then polls the status
endpoint from a small script (static/js/report-progress.js) to move the
progress bar; without JavaScript the page refreshes itself instead. A built
report's chart is inline SVG drawn from its days CSV, beside a table of the
same figures.
"""

from __future__ import annotations

from flask import abort, flash, jsonify, render_template, url_for
from flask_login import current_user
from sqlalchemy import or_, select

from blasto.admin import bp
from blasto.admin.report_form import ReportForm
from blasto.core.extensions import db
from blasto.models import Report
from blasto.models.base import ID_CONVERTER, utcnow
from blasto.models.report import DONE
from blasto.reports.asking import ask_for_report
from blasto.reports.files import FILES, file_response, live_report, status
from blasto.reports.ranges import DateRange
from blasto.reports.svg_chart import days_from_csv, revenue_chart
from blasto.web.forms import CsrfOnlyForm
from blasto.web.redirects import see_other

RECENT = 20


@bp.get("/reports")
def reports():
    return _reports_page(ReportForm())


@bp.post("/reports")
def ask_for_one():
    form = ReportForm()
    span = form.checked()
    if span is None:
        return _reports_page(form)
    return _asked(span)


@bp.post(f"/reports/<{ID_CONVERTER}:report_id>/again")
def ask_again(report_id: int):
    report = live_report(report_id)
    if report is None:
        abort(404)
    if not CsrfOnlyForm().validate_on_submit():
        return see_other(url_for("admin.report", report_id=report_id))
    return _asked(DateRange(report.date_from, report.date_to))


@bp.get(f"/reports/<{ID_CONVERTER}:report_id>")
def report(report_id: int):
    found = live_report(report_id)
    if found is None:
        abort(404)
    days = days_from_csv(found.days_csv) if found.state == DONE and found.days_csv else []
    return render_template(
        "admin/report.html",
        report=found,
        days=days,
        chart=revenue_chart(days),
        status_url=url_for("admin.report_status", report_id=report_id),
        files=_file_urls(report_id),
        form=CsrfOnlyForm(),
    )


@bp.get(f"/reports/<{ID_CONVERTER}:report_id>/status")
def report_status(report_id: int):
    found = live_report(report_id)
    if found is None:
        abort(404)
    response = jsonify(status(found, _file_urls(report_id).get))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get(f"/reports/<{ID_CONVERTER}:report_id>/<any({', '.join(FILES)}):name>")
def report_file(report_id: int, name: str):
    response = file_response(report_id, name)
    if response is None:
        abort(404)
    return response


def _asked(span: DateRange):
    found, created = ask_for_report(span, current_user.id)
    if not created:
        flash("A report for these days is already being built; here it is.", "info")
    return see_other(url_for("admin.report", report_id=found.id))


def _reports_page(form: ReportForm):
    live = or_(Report.expires_at.is_(None), Report.expires_at > utcnow())  # expired ones await the sweep's delete
    recent = db.session.scalars(select(Report).where(live).order_by(Report.id.desc()).limit(RECENT)).all()
    return render_template("admin/reports.html", form=form, recent=recent)


def _file_urls(report_id: int) -> dict[str, str]:
    return {name: url_for("admin.report_file", report_id=report_id, name=name) for name in FILES}
