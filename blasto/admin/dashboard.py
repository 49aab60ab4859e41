"""The admin home at /admin: the day's and the week's sales, and what waits for a person.

Every figure links to the admin list that shows exactly its rows (the same
condition, from the same domain function).
"""

from __future__ import annotations

from flask import render_template

from blasto.admin import bp
from blasto.models.base import utcnow
from blasto.outbox.backlog import STUCK_AFTER, emails_needing_a_person
from blasto.reports.dashboard import LOW_STOCK, dashboard


@bp.get("")
def home():
    now = utcnow()
    failed, stuck = emails_needing_a_person(now)
    return render_template(
        "admin/dashboard.html",
        board=dashboard(now),
        failed_emails=failed,
        stuck_emails=stuck,
        stuck_hours=int(STUCK_AFTER.total_seconds() // 3600),
        low_stock_under=LOW_STOCK,
    )
