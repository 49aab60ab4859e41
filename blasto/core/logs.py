"""One event per line, in logfmt, on stdout, tagged with the request id.

Heroku's router and log drains speak logfmt (`key=value`). Every record made in
this process gets a `request_id` attribute from a context variable, set by the
web request hook or by the Celery task that carries the id of the request
that enqueued it, so a checkout can be followed from router to worker.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from contextlib import contextmanager
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("blasto_request_id", default=None)


@contextmanager
def tagged(request_id: str | None):
    """Log lines inside carry `request_id` (when given), e.g. the checkout's, in the worker."""
    token = request_id_var.set(request_id or request_id_var.get())
    try:
        yield
    finally:
        request_id_var.reset(token)


_BARE = re.compile(r"^[^\s=\"\\]+$")
# A URL's `user:password@`, and an e-mail address standing on its own (not a
# URL's `user@host`), inside free text.
_URL_PASSWORD = re.compile(r"(?<=://)([^\s/:@]*):[^\s/@]*@")
_ADDRESS = re.compile(r"(?<![^\s<(\[,;=\"'])[^\s<>()\[\],;:=\"'@/]+@[^\s<>()\[\],;:\"'@/]+")


def scrubbed(text: str) -> str:
    """Free text from outside (an SMTP reply, a driver's error) fit for a log line.

    E-mail addresses become `[email]` and a URL's password `***`: an SMTP
    server's refusal names the recipient, and no log carries personal data
    beyond ids, or a credential.
    """
    return _ADDRESS.sub("[email]", _URL_PASSWORD.sub(r"\1:***@", text))


_SCALARS = (str, int, float, bool)
_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}


def logfmt_value(value: object) -> str:
    """Quote a value when needed and keep it on one line."""
    text = "" if value is None else str(value)
    if text and _BARE.match(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def logfmt(pairs: dict[str, object]) -> str:
    return " ".join(f"{key}={logfmt_value(value)}" for key, value in pairs.items() if value is not None)


class LogfmtFormatter(logging.Formatter):
    """`time=... level=info logger=blasto request_id=... msg="..." key=value`."""

    def format(self, record: logging.LogRecord) -> str:
        pairs: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", None),
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            # Plain values only: libraries attach whole payloads (Celery's
            # `data` holds task arguments), which have no place in a log line.
            if key not in _STANDARD_ATTRS and not key.startswith("_") and isinstance(value, _SCALARS):
                pairs[key] = value
        if record.exc_info:
            exc_type, exc, _ = record.exc_info
            pairs["error"] = f"{exc_type.__name__}: {exc}" if exc_type else None
            pairs["traceback"] = self.formatException(record.exc_info)
        return logfmt(pairs)


class AccessFormatter(logging.Formatter):
    """gunicorn's access lines are logfmt already (see gunicorn.conf.py)."""

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage().replace("\n", "\\n")


def _install_record_factory() -> None:
    """Give every LogRecord the current request id, whoever logs it."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_blasto", False):
        return

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        record.request_id = request_id_var.get()
        return record

    factory._blasto = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure_logging(level: str = "INFO") -> None:
    """Send the root logger to stdout in logfmt; safe to call more than once."""
    _install_record_factory()
    # Python warnings become log events too, instead of multi-line stderr text.
    logging.captureWarnings(True)
    root = logging.getLogger()
    root.setLevel(level)
    # Alembic announces each of its plugins at INFO on every start.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    for handler in root.handlers:
        if getattr(handler, "_blasto", False):
            handler.setLevel(level)
            return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(LogfmtFormatter())
    handler._blasto = True  # type: ignore[attr-defined]
    root.addHandler(handler)


def gunicorn_logconfig(level: str = "INFO") -> dict:
    """dictConfig for gunicorn: its error and access logs in the same shape, on stdout."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "logfmt": {"()": "blasto.core.logs.LogfmtFormatter"},
            "access": {"()": "blasto.core.logs.AccessFormatter"},
        },
        "handlers": {
            "stdout": {"class": "logging.StreamHandler", "formatter": "logfmt", "stream": "ext://sys.stdout"},
            "access": {"class": "logging.StreamHandler", "formatter": "access", "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stdout"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
        },
        "root": {"level": level, "handlers": []},
    }
