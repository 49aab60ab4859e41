"""Hand a message to the SMTP server, or to the log in development.

Every failure becomes a `DeliveryError` that says whether trying again can
help: a refused recipient or message (5xx) cannot; a refused connection, a
timeout, a 4xx or an answer that is not SMTP at all can.
"""

from __future__ import annotations

import functools
import logging
import smtplib
import ssl
from email.message import EmailMessage

from email_validator import EmailNotValidError, validate_email

from blasto.core.mail_settings import LOG, SMTP, MailSettings

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    def __init__(self, reason: str, permanent: bool):
        super().__init__(reason)
        self.permanent = permanent


def check_recipient(address: str) -> None:
    """Refuse an address no server could deliver to, before connecting."""
    try:
        validate_email(address, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as exc:
        raise DeliveryError(f"undeliverable address: {exc}", permanent=True) from None


class Outgoing:
    """One delivery: `send`, then the caller records it, then `close` says goodbye.

    Closing after the caller's commit keeps the gap between "the server has
    it" and "the database knows" as short as it can be.
    """

    def __init__(self, settings: MailSettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Outgoing:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def send(self, message: EmailMessage) -> None:
        check_recipient(str(message["To"]))
        if self.settings.mode == LOG:
            if self.settings.log_body:
                # Development without a server: the whole message, on one log line.
                log.info("mail not sent, no SMTP_URL: logged instead", extra={"mail": message.as_string()})
            else:  # test mode: its text holds an address and a name, which no log may carry
                log.info("mail not sent, no SMTP_URL (its text is logged in development only)")
            return
        if self.settings.mode != SMTP or self.settings.smtp is None:
            raise DeliveryError("no SMTP_URL is configured", permanent=False)
        try:
            self._connect().send_message(message)
        except Exception as exc:
            self._drop()
            raise classify(exc) from None

    def _connect(self) -> smtplib.SMTP:
        smtp = self.settings.smtp
        assert smtp is not None
        if smtp.implicit_tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=tls_context())
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        self._smtp = client
        if smtp.starttls:
            client.starttls(context=tls_context())
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        return client

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except Exception:  # the message is already accepted; a rude goodbye changes nothing
                self._smtp.close()
            self._smtp = None

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None


@functools.cache
def tls_context() -> ssl.SSLContext:
    """Made once per process, and only when TLS is used: loading the CA bundle was most of a receipt's cost
    (docs/BENCHMARKS.md, receipts)."""
    return ssl.create_default_context()


def classify(exc: Exception) -> DeliveryError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refusals = exc.recipients.items()
        detail = "; ".join(f"{address}: {code} {_text(text)}" for address, (code, text) in refusals)
        return DeliveryError(
            f"recipient refused: {detail}", permanent=all(500 <= code < 600 for _, (code, _) in refusals)
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        code, text = exc.smtp_code, _text(exc.smtp_error)
        if not 200 <= code < 600:
            return DeliveryError(
                f"the SMTP server answered something that is not SMTP: {text[:200]!r}", permanent=False
            )
        # A 5xx to the message itself is final; a 5xx to login or sender is
        # configuration, which an operator fixes before retrying.
        return DeliveryError(
            f"SMTP {code} {text}", permanent=500 <= code < 600 and isinstance(exc, smtplib.SMTPDataError)
        )
    # Refused connections, timeouts, dropped sessions, TLS trouble: worth another try.
    return DeliveryError(f"{type(exc).__name__}: {exc}", permanent=False)


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
