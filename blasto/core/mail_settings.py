"""Mail settings: `SMTP_URL`, `MAIL_FROM`, and what to do when there is no server.

`SMTP_URL` is `smtp://user:pass@host:port` (plain, or STARTTLS with
`?starttls=true`) or `smtps://...` (TLS from the first byte). Without it,
development and test write each message whole to the log, and production
keeps every message pending until a server is configured: a receipt is
never dropped because mail was not set up yet. Only development logs a
message's text (addresses, names, links); test mode logs that one was made,
nothing of what it says. Errors name the variable and never echo the password.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.utils import parseaddr
from urllib.parse import parse_qsl, unquote, urlsplit

from blasto.core.env import ConfigError, parse_flag

SMTP, LOG, HOLD = "smtp", "log", "hold"
DEFAULT_PORTS = {("smtp", False): 25, ("smtp", True): 587, ("smtps", False): 465}
DEFAULT_TIMEOUT_SECONDS = 10.0
DEV_MAIL_FROM = "Blasto <shop@blasto.localhost>"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    implicit_tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    def describe(self) -> str:
        """For logs: where mail goes, without credentials."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        return f"{scheme}://{self.host}:{self.port}" + (" (STARTTLS)" if self.starttls else "")


@dataclass(frozen=True)
class MailSettings:
    mode: str  # SMTP, LOG or HOLD
    sender: str  # the From header, e.g. "Blasto <shop@example.com>"
    smtp: SmtpSettings | None = None
    # LOG mode: write the whole message to the log. Development only: it holds
    # the shopper's address and name, which have no place in any other log.
    log_body: bool = False

    @property
    def sender_address(self) -> str:
        return parseaddr(self.sender)[1]

    @property
    def domain(self) -> str:
        """The right-hand side of every Message-ID we make."""
        return self.sender_address.rpartition("@")[2]


def mail_settings(env: Mapping[str, str], production: bool, development: bool = False) -> MailSettings:
    smtp = smtp_settings(env.get("SMTP_URL"))
    raw_sender = env.get("MAIL_FROM", "").strip()
    if not raw_sender and smtp is not None and production:
        raise ConfigError(
            "MAIL_FROM", "is not set; receipts need a sender, e.g. MAIL_FROM='Blasto <shop@your-domain.example>'"
        )
    sender = mail_from(raw_sender) if raw_sender else DEV_MAIL_FROM
    if smtp is not None:
        return MailSettings(SMTP, sender, smtp)
    return MailSettings(HOLD if production else LOG, sender, log_body=development)


def mail_from(value: str) -> str:
    """A From header with one plain address; no line breaks (header injection)."""
    if any(char in value for char in "\r\n\0"):
        raise ConfigError("MAIL_FROM", "must be on one line")
    name, address = parseaddr(value)
    local, _, domain = address.rpartition("@")
    if not local or "." not in domain or " " in address:
        raise ConfigError("MAIL_FROM", f"is not an e-mail address or 'Name <address>': {value!r}")
    return str(Address(display_name=name, addr_spec=address)) if name else address


def smtp_settings(value: str | None) -> SmtpSettings | None:
    if not value or not value.strip():
        return None
    parts = urlsplit(value.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise ConfigError("SMTP_URL", f"must start with smtp:// or smtps://, not {parts.scheme or 'nothing'}://")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError("SMTP_URL", "has a port that is not a number between 1 and 65535") from None
    if port == 0:
        raise ConfigError("SMTP_URL", "has a port that is not a number between 1 and 65535")
    if not parts.hostname:
        raise ConfigError("SMTP_URL", "needs a host (smtp://user:pass@host:587)")
    options = _options(parts.query)
    starttls = _flag(options.pop("starttls", "false"))
    if starttls and scheme == "smtps":
        raise ConfigError("SMTP_URL", "asks for STARTTLS on smtps://, which is TLS already; use one or the other")
    timeout = _timeout(options.pop("timeout", str(DEFAULT_TIMEOUT_SECONDS)))
    if options:
        raise ConfigError("SMTP_URL", f"has unknown options: {', '.join(sorted(options))} (known: starttls, timeout)")
    return SmtpSettings(
        host=parts.hostname,
        port=port or DEFAULT_PORTS[(scheme, starttls)],
        implicit_tls=scheme == "smtps",
        starttls=starttls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        timeout=timeout,
    )


def _options(query: str) -> dict[str, str]:
    try:
        options = {key.lower(): value for key, value in parse_qsl(query, strict_parsing=bool(query))}
    except ValueError:
        raise ConfigError("SMTP_URL", "has a malformed query string (expected ?starttls=true&timeout=10)") from None
    if "" in options:
        raise ConfigError("SMTP_URL", "has an option without a name (expected ?starttls=true&timeout=10)")
    return options


def _flag(value: str) -> bool:
    flag = parse_flag(value)
    if flag is None:
        raise ConfigError("SMTP_URL", f"starttls must be true or false, not {value!r}")
    return flag


def _timeout(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError("SMTP_URL", f"timeout must be a number of seconds, not {value!r}") from None
    if not 0.5 <= seconds <= 120:
        raise ConfigError("SMTP_URL", f"timeout must be between 0.5 and 120 seconds, not {seconds:g}")
    return seconds
