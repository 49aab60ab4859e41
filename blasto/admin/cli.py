"""`flask --app blasto create-admin EMAIL`: promote an account, or create one."""

from __future__ import annotations

import click
from email_validator import EmailNotValidError, validate_email
from flask.cli import with_appcontext
from sqlalchemy import select

from blasto.core.extensions import db
from blasto.models import User
from blasto.models.user import NAME_MAX
from blasto.shop.accounts import EmailTaken, sign_up
from blasto.shop.passwords import password_problem


@click.command("create-admin")
@click.argument("email")
@click.option("--name", help="Name for a new account (default: the part before the @).")
@with_appcontext
def create_admin(email: str, name: str | None):
    """Make EMAIL an admin: promote its account, or create it (asks for a password)."""
    email = email.strip().lower()
    user = db.session.scalar(select(User).where(User.email == email))
    if user is not None:
        if user.is_admin:
            click.echo(f"{email} is already an admin.")
            return
        user.is_admin = True
        db.session.commit()
        click.echo(f"{email} is now an admin.")
        return
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise click.BadParameter(str(exc), param_hint="EMAIL") from None
    password = click.prompt("Password for the new admin", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password, email)  # the same rule as the sign-up page and the API
    if problem:
        raise click.BadParameter(problem, param_hint="password")
    try:
        user = sign_up(email, (name or email.split("@")[0])[:NAME_MAX], password)
    except EmailTaken:
        raise click.ClickException(f"{email} signed up a moment ago; run the command again to promote it.") from None
    user.is_admin = True
    db.session.commit()
    click.echo(f"Created {email} as an admin.")
