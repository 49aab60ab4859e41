"""A password reset e-mail through the real processes: web owes it, the worker sends it, its link works once.

Postgres, Redis and an SMTP server (aiosmtpd) are real; web, worker and clock
are the Procfile's own command lines. Every wait is on a condition with a deadline.
"""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import text

from blasto.shop.password_reset import ASKED, DEAD_LINK
from tests.support.password_resets import link_in, token_of
from tests.support.processes import wait_for
from tests.support.receipts import Shop, receipts_env

pytestmark = pytest.mark.processes

NEW_PASSWORD = "a brand new passphrase"


def test_the_reset_email_reaches_the_smtp_server_through_the_worker_and_its_link_works_once(
    processes, migrated_postgres, redis_url, sink
):
    env = receipts_env(migrated_postgres, redis_url, sink.url)
    base = processes.start_formation(env)
    shop = Shop([base], migrated_postgres)
    try:
        email, token = shop.shopper()
        asked = requests.post(f"{base}/api/v1/password-reset", json={"email": email}, timeout=15)
        assert asked.status_code == 202 and asked.json() == {"message": ASKED}

        mails = lambda: [m for m in sink.for_recipient(email) if m.subject == "Reset your Blasto password"]  # noqa: E731
        wait_for(lambda: len(mails()) == 1, 30, what="the reset e-mail, sent by the worker")
        link = link_in(mails()[0])
        assert link.startswith(f"{base}/password-reset/new?token=")
        with shop.engine.begin() as connection:
            stored = connection.execute(text("SELECT link FROM outbox_messages WHERE kind = 'password_reset'")).all()
        assert stored == [(f"{base}/password-reset/new",)], "the database never holds a live link"

        page = requests.get(link, timeout=15)
        assert page.status_code == 200 and "Choose a new password" in page.text
        reset_token = token_of(link)
        body = {"token": reset_token, "password": NEW_PASSWORD}
        assert requests.post(f"{base}/api/v1/password-reset/confirm", json=body, timeout=15).status_code == 204
        me = requests.get(f"{base}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=15)
        assert me.status_code == 401, "the account's tokens are revoked"
        again = requests.get(link, timeout=15)
        assert again.status_code == 410 and DEAD_LINK in again.text
        processes["web"].wait_for_output(r'path="/password-reset/new" .*status=410')
        logged = processes["web"].output() + processes["worker"].output()
        assert reset_token not in logged and email not in logged, "no log line holds the link or the address"
    finally:
        shop.close()
