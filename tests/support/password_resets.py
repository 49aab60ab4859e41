"""Password reset helpers: deliver the owed reset e-mails to a sink, read the link, and age or forge one.

`deliver_reset_emails` runs the worker's own delivery (blasto.outbox.delivery)
in the test's process, so the link a test follows is the one the e-mail carried.
`signed_long_ago` re-signs a real link's payload with the real key and salt but
an old timestamp: an expired link, made the way time would make one.
"""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlencode, urlsplit

from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from blasto.core.extensions import db
from blasto.core.mail_settings import SMTP, MailSettings, SmtpSettings
from blasto.models import OutboxMessage
from blasto.models.outbox import PASSWORD_RESET, PENDING
from blasto.outbox.delivery import deliver
from blasto.shop.password_reset import SALT

RESET_PAGE = "/password-reset/new"
RESET_LINK = re.compile(r"https?://[^\s\"<>]+/password-reset/new\?token=[A-Za-z0-9_.\-]+")


def mail_to(app, sink) -> None:
    """Send the app's e-mail to the sink, as production's SMTP_URL would."""
    smtp = SmtpSettings(host="127.0.0.1", port=sink.port, timeout=2)
    app.config["MAIL"] = MailSettings(mode=SMTP, sender="Blasto <shop@blasto.example>", smtp=smtp)


def deliver_reset_emails(app) -> list[str]:
    """Send every pending reset e-mail now, as the worker would; the outcome of each."""
    with app.app_context():
        ids = db.session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.kind == PASSWORD_RESET, OutboxMessage.state == PENDING)
        ).all()
        return [deliver(message_id).state for message_id in ids]


def reset_emails_owed(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.kind == PASSWORD_RESET)).all())


def link_in(received) -> str:
    """The reset link of a received e-mail (both parts carry the same one)."""
    text = received.message.get_body(("plain",)).get_content()
    html = received.message.get_body(("html",)).get_content()
    links = set(RESET_LINK.findall(text)) | set(RESET_LINK.findall(html))
    assert len(links) == 1, links
    return links.pop()


def mailed_reset_path(app, sink, email: str) -> str:
    """Deliver the owed reset e-mails and return the path and query of the newest link sent to `email`."""
    assert "sent" in deliver_reset_emails(app)
    mails = [m for m in sink.received if email in m.rcpt_tos and m.subject == "Reset your Blasto password"]
    assert mails, [m.subject for m in sink.received]
    parts = urlsplit(link_in(mails[-1]))
    return f"{parts.path}?{parts.query}"


def token_of(path: str) -> str:
    """The token of a link's path and query."""
    return parse_qs(urlsplit(path).query).get("token", [""])[0]


def reset_path(token: str) -> str:
    """The reset page's link for `token`, as the e-mail would carry it."""
    return f"{RESET_PAGE}?{urlencode({'token': token})}"


class _LongAgo(TimestampSigner):
    seconds_ago = 0

    def get_timestamp(self) -> int:
        return int(time.time()) - self.seconds_ago


def signed_long_ago(app, token: str, seconds_ago: int) -> str:
    """The same payload as `token`, signed with the app's key and salt `seconds_ago` seconds ago."""
    payload = URLSafeTimedSerializer(app.secret_key, salt=SALT).loads(token)
    signer = type("Aged", (_LongAgo,), {"seconds_ago": seconds_ago})
    return URLSafeTimedSerializer(app.secret_key, salt=SALT, signer=signer).dumps(payload)


def signed_with(secret: str, payload, salt: str = SALT) -> str:
    """A token an attacker could make: any payload, signed with a key (or salt) of their choosing."""
    return URLSafeTimedSerializer(secret, salt=salt).dumps(payload)
