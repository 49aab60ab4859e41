"""E-mail change helpers: deliver the owed account e-mails to a sink, as the worker would, and read the link."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import OutboxMessage
from blasto.models.outbox import EMAIL_CHANGE, EMAIL_CHANGED, PENDING
from blasto.outbox.delivery import deliver

CONFIRM_PAGE = "/account/email/confirm"
CONFIRM_LINK = re.compile(r"https?://[^\s\"<>]+/account/email/confirm\?token=[A-Za-z0-9_.\-]+")
CONFIRM_SUBJECT = "Confirm your new Blasto e-mail address"
CHANGED_SUBJECT = "Your Blasto e-mail address was changed"


def deliver_account_emails(app) -> list[str]:
    """Send every pending e-mail-change message now (blasto.outbox.delivery); the outcome of each."""
    with app.app_context():
        ids = db.session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.kind.in_((EMAIL_CHANGE, EMAIL_CHANGED)), OutboxMessage.state == PENDING
            )
        ).all()
        return [deliver(message_id).state for message_id in ids]


def mailed_confirm_path(app, sink, email: str) -> str:
    """Deliver, then the path and query of the newest confirmation link sent to `email`."""
    assert "sent" in deliver_account_emails(app)
    mails = [m for m in sink.received if email in m.rcpt_tos and m.subject == CONFIRM_SUBJECT]
    assert mails, [m.subject for m in sink.received]
    text = mails[-1].message.get_body(("plain",)).get_content()
    html = mails[-1].message.get_body(("html",)).get_content()
    links = set(CONFIRM_LINK.findall(text)) | set(CONFIRM_LINK.findall(html))
    assert len(links) == 1, links
    parts = urlsplit(links.pop())
    return f"{parts.path}?{parts.query}"
