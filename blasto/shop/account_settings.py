"""What a shopper changes on their own account: the name, the password, the log-ins, the saved addresses, the account itself.

A password change reuses the reset's rule (blasto.shop.password_reset): every
log-in and API token of the account ends; the page then starts a fresh log-in
for the browser that asked, so only the *other* sessions are over.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update

from blasto.core.extensions import db
from blasto.models import SavedAddress, User
from blasto.models.base import utcnow
from blasto.models.cart_line import CartLine
from blasto.models.login_session import LoginSession
from blasto.outbox.records import forget_recipient
from blasto.shop.password_reset import end_logins_and_tokens, reset_password

DELETED_NAME = "Deleted account"
# RFC 2606 reserves .invalid: no mail server answers for it, so nothing is ever delivered there.
DELETED_EMAIL = "deleted-{id}@deleted.invalid"
UNUSABLE_PASSWORD = "!"  # not a werkzeug hash: check_password_hash refuses every password


def rename(user: User, name: str) -> None:
    user.name = name
    db.session.commit()


def change_password(user: User, password: str) -> None:
    """The reset's own step: new password, every log-in and API token of the account ended."""
    reset_password(user, password)


def open_logins(user_id: int) -> list[LoginSession]:
    """The account's log-ins not yet ended, newest first."""
    return list(
        db.session.scalars(
            select(LoginSession)
            .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
            .order_by(LoginSession.created_at.desc(), LoginSession.id.desc())
        )
    )


def end_other_login(user_id: int, login_id: int) -> bool:
    """End one of the account's own open log-ins; False when it is not theirs, or already over."""
    return _end_logins(user_id, LoginSession.id == login_id) == 1


def end_every_other_login(user_id: int, keep_login_id: int | None) -> int:
    """End every open log-in of the account but `keep_login_id` (this device's); how many ended."""
    return _end_logins(user_id, LoginSession.id != (keep_login_id or 0))


def _end_logins(user_id: int, which) -> int:
    ended = db.session.scalars(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None), which)
        .values(ended_at=utcnow())
        .returning(LoginSession.id)
    ).all()
    db.session.commit()
    return len(ended)


def forget_address(user_id: int, address_id: int) -> bool:
    """Delete one of the shopper's saved addresses (past orders keep their own copy); False if not theirs."""
    gone = db.session.scalars(
        delete(SavedAddress)
        .where(SavedAddress.id == address_id, SavedAddress.user_id == user_id)
        .returning(SavedAddress.id)
    ).all()
    db.session.commit()
    return bool(gone)


class LastAdmin(Exception):
    """The shop's only admin cannot delete their account: nobody could run the shop (or make another admin) then."""


def is_last_admin(user: User, lock: bool = False) -> bool:
    if not user.is_admin:
        return False
    admins = select(User.id).where(User.is_admin)
    return list(db.session.scalars(admins.with_for_update() if lock else admins)) == [user.id]


def delete_account(user: User) -> None:
    """Erase what names the person; keep the orders (with their address copies) for the shop's books.

    The row stays so orders still point at an account; its name and e-mail are
    replaced (in its e-mail records too), its password made unusable, its
    saved addresses and cart deleted, its unsent e-mails dropped, and every
    log-in and API token ended, in one transaction. Raises LastAdmin, and
    changes nothing, for the shop's only admin.
    """
    if is_last_admin(user, lock=True):  # locked: two admins deleting themselves at once cannot both pass
        db.session.rollback()
        raise LastAdmin()
    db.session.execute(delete(SavedAddress).where(SavedAddress.user_id == user.id))
    db.session.execute(delete(CartLine).where(CartLine.user_id == user.id))
    user.name = DELETED_NAME
    user.email = DELETED_EMAIL.format(id=user.id)
    forget_recipient(user.id, user.email)  # and no e-mail still owed (a reset link) leaves
    user.is_admin = False
    user.password_hash = UNUSABLE_PASSWORD
    end_logins_and_tokens(user.id)
    db.session.commit()
