"""Build e-mails from Jinja2 templates: a plain-text part and an HTML part.

Templates are rendered straight from the app's Jinja environment, without the
site's context processors (they read the session of a request, and the worker
has none); filters such as `money` are shared.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime

from flask import current_app

from blasto.models.base import utcnow


def render(template: str, **context) -> str:
    return current_app.jinja_env.get_template(template).render(**context)


def compose(*, sender: str, recipient: str, subject: str, message_id: str, template: str, **context) -> EmailMessage:
    """`template` names a pair: mail/<template>.txt and mail/<template>.html."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    # Stable across retries, so a receiving system can recognise a repeat.
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(render(f"mail/{template}.txt", **context))
    message.add_alternative(render(f"mail/{template}.html", **context), subtype="html")
    return message
