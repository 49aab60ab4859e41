"""Owing an e-mail: a row added to the caller's session, committed with its cause."""

from __future__ import annotations

from flask import current_app, has_request_context, url_for
from sqlalchemy import func, select

from blasto.core.extensions import db
from blasto.core.logs import request_id_var
from blasto.models import OutboxMessage, User
from blasto.models.outbox import RECEIPT, WELCOME


def owe_receipt(purchase_id: int, user_id: int) -> OutboxMessage:
    email = db.session.scalar(select(User.email).where(User.id == user_id))
    return _owe(
        RECEIPT,
        f"receipt:{purchase_id}",
        email or "",
        user_id,
        purchase_id,
        public_link("site.purchase", purchase_id=purchase_id),
    )


def owe_welcome(user: User) -> OutboxMessage:
    return _owe(WELCOME, f"welcome:{user.id}", user.email, user.id, None, public_link("site.home"))


def _owe(kind: str, key: str, recipient: str, user_id: int, purchase_id: int | None, link: str) -> OutboxMessage:
    message = OutboxMessage(
        kind=kind,
        key=key,
        recipient=recipient,
        user_id=user_id,
        purchase_id=purchase_id,
        link=link,
        request_id=request_id_var.get(),
    )
    db.session.add(message)
    return message


def public_link(endpoint: str, **values) -> str:
    """An absolute link for an e-mail: PUBLIC_URL when set, else the request's own host."""
    base = current_app.config.get("PUBLIC_URL", "")
    if base:
        return base + current_app.url_map.bind("localhost").build(endpoint, values)
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    return ""


def state_counts() -> dict[str, int]:
    """How many owed e-mails are in each state (states with none are absent)."""
    return dict(db.session.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)).all())


def receipt_state(purchase_id: int) -> dict | None:
    """What the purchase page and the API show: state, when sent, the last error."""
    row = db.session.execute(
        select(OutboxMessage.state, OutboxMessage.sent_at, OutboxMessage.recipient).where(
            OutboxMessage.key == f"receipt:{purchase_id}"
        )
    ).first()
    if row is None:
        return None
    return {"state": row.state, "sent_at": row.sent_at, "recipient": row.recipient}
