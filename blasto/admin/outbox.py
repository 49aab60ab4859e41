"""The outbox for admins: what is owed, what failed and why, and a way to send again."""

from __future__ import annotations

from flask import flash, render_template, request, url_for
from sqlalchemy import select

from blasto.admin import bp
from blasto.core.extensions import db
from blasto.models import OutboxMessage
from blasto.models.base import ID_CONVERTER, utcnow
from blasto.models.outbox import FAILED, PENDING, STATES
from blasto.outbox.backlog import STUCK_AFTER, stuck
from blasto.outbox.delivery import send_again
from blasto.outbox.records import state_counts
from blasto.web.forms import CsrfOnlyForm
from blasto.web.redirects import see_other

SHOWN = 100


@bp.get("/outbox")
def outbox():
    state = request.args.get("state", FAILED)
    if state not in STATES:
        state = FAILED
    # The dashboard's "stuck" figure: pending e-mails owed for longer than STUCK_AFTER.
    only_stuck = state == PENDING and request.args.get("stuck") == "1"
    counts = state_counts()
    condition = stuck(utcnow()) if only_stuck else OutboxMessage.state == state
    rows = db.session.scalars(
        select(OutboxMessage).where(condition).order_by(OutboxMessage.id.desc()).limit(SHOWN)
    ).all()
    return render_template(
        "admin/outbox.html",
        rows=rows,
        state=state,
        states=STATES,
        counts=counts,
        form=CsrfOnlyForm(),
        shown=SHOWN,
        only_stuck=only_stuck,
        stuck_hours=int(STUCK_AFTER.total_seconds() // 3600),
    )


@bp.post(f"/outbox/<{ID_CONVERTER}:message_id>/retry")
def retry_one(message_id: int):
    return _retry([message_id])


@bp.post("/outbox/retry-failed")
def retry_failed():
    return _retry(None)


def _retry(ids: list[int] | None):
    form = CsrfOnlyForm()
    if form.validate_on_submit():
        reopened, _ = send_again(ids)
        if reopened:
            flash(f"Sending {len(reopened)} e-mail{'s' if len(reopened) != 1 else ''} again.", "success")
        else:
            flash("Nothing to send again: only failed e-mails can be retried (sent ones never go twice).", "info")
    return see_other(url_for("admin.outbox", state=FAILED))
