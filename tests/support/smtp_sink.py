"""A real SMTP server the tests control: it records mail and can misbehave on demand.

The app talks to it through smtplib exactly as it would to a provider, so the
tests see real SMTP replies (and real failures) rather than a mocked client.
Built on aiosmtpd's threaded `Controller`; each start() makes a new one (a
stopped Controller's event loop is closed), always on the same port, so a test
can take the server away and bring it back where the app expects it.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from functools import cached_property
from typing import Self

from aiosmtpd.controller import Controller

from blasto.core.mail_settings import SMTP, MailSettings, SmtpSettings
from tests.support.processes import free_port, wait_for

HOST = "127.0.0.1"
SENDER = "Blasto <shop@blasto.example>"  # the From the tests' shops send with


@dataclass(frozen=True)
class Received:
    """One message the sink accepted (answered 250 to its DATA)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    received_at: float  # time.time() when accepted

    @cached_property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)

    @property
    def message_id(self) -> str | None:
        value = self.message["Message-ID"]
        return str(value).strip() if value is not None else None

    @property
    def subject(self) -> str | None:
        value = self.message["Subject"]
        return str(value) if value is not None else None


class SmtpSink:
    """An SMTP server on 127.0.0.1 whose behaviour the test sets while it runs.

    The behaviour attributes are read by the server thread on each command, so
    assigning them from the test thread takes effect for the next command.
    What smtplib (Python 3.11, `sendmail`/`send_message`) does in each case;
    note every smtplib.SMTPException is also an OSError:

    delay_seconds: float
        Wait this long (an asyncio sleep: other sessions are still served)
        before answering DATA with 250. If the client's timeout is shorter,
        smtplib raises SMTPServerDisconnected("Connection unexpectedly closed:
        timed out"); aiosmtpd then cancels the session, so that message is
        counted in `attempts` but NOT recorded (a provider that did not take it).
    refuse_data: str | None
        e.g. "451 4.3.0 Try again later": DATA is answered with this and the
        message is not recorded. smtplib raises SMTPDataError with
        smtp_code 451 and smtp_error b"4.3.0 Try again later".
    refuse_recipients: frozenset[str]
        Assign a set of addresses (compared case-insensitively); RCPT TO for
        them is answered "550 5.1.1 No such user here". If every recipient is
        refused smtplib raises SMTPRecipientsRefused, whose .recipients maps
        each address to (550, b"5.1.1 No such user here"); if only some are,
        sendmail returns that dict and the others get the mail.
    holding: bool
        While True, DATA is not answered at all: every send waits in the
        sink (counted in `in_flight`), so a test can act on a client caught
        mid-send without racing it. A client that dies meanwhile is not
        recorded; set it False and the waiting sends are answered.
    garbage: bool
        DATA is answered with a line that is not an SMTP reply ("what is this?")
        and nothing is recorded. smtplib cannot parse a code from it and raises
        SMTPDataError with smtp_code -1 and smtp_error b"is this?".
    A stopped sink refuses connections: smtplib.SMTP(...) raises
    ConnectionRefusedError (errno ECONNREFUSED).
    """

    NO_SUCH_USER = "550 5.1.1 No such user here"
    GARBAGE = "what is this?"

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.delay_seconds = 0.0
        self.holding = False
        self.refuse_data: str | None = None
        self.garbage = False
        self._refuse_recipients: frozenset[str] = frozenset()
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._attempts = 0
        self._in_flight = 0
        self._controller: Controller | None = None

    # -- behaviours ---------------------------------------------------------
    @property
    def refuse_recipients(self) -> frozenset[str]:
        return self._refuse_recipients

    @refuse_recipients.setter
    def refuse_recipients(self, addresses) -> None:
        # One immutable value, swapped atomically: the server thread never sees it half-updated.
        self._refuse_recipients = frozenset(address.lower() for address in addresses)

    # -- lifecycle ----------------------------------------------------------
    @property
    def url(self) -> str:
        return f"smtp://{HOST}:{self.port}"

    def mail_settings(self, timeout: float = 2) -> MailSettings:
        """The shop's mail settings (app.config["MAIL"]) that send here, as production's SMTP_URL would."""
        return MailSettings(mode=SMTP, sender=SENDER, smtp=SmtpSettings(host=HOST, port=self.port, timeout=timeout))

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> SmtpSink:
        assert self._controller is None, "sink already running"
        controller = Controller(
            _Handler(self),
            hostname=HOST,
            port=self.port,
            ready_timeout=10.0,  # the default 1 s is tight on a loaded CI machine
            server_hostname="blasto-test-sink",  # else aiosmtpd calls getfqdn(), a DNS lookup
            data_size_limit=100 * 1024 * 1024,
        )
        controller.start()  # returns once it has answered its own test connection
        self._controller = controller
        return self

    def stop(self) -> None:
        """Close the listener and cut open sessions; the port is free again on return."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what arrived -------------------------------------------------------
    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def attempts(self) -> int:
        """DATA commands that reached the handler, whether accepted or not."""
        with self._lock:
            return self._attempts

    @property
    def in_flight(self) -> int:
        """DATA commands being answered right now (inside `delay_seconds` or held)."""
        with self._lock:
            return self._in_flight

    def wait_for_count(self, n: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least `n` messages were accepted; returns them all."""

        def enough():
            got = self.received
            return got if len(got) >= n else None

        return self.received if n <= 0 else wait_for(enough, timeout, what=f"{n} message(s) at the SMTP sink")

    def by_message_id(self) -> dict[str, list[Received]]:
        """Messages grouped by Message-ID: more than one in a group means a duplicate send."""
        groups: dict[str, list[Received]] = {}
        for item in self.received:
            if item.message_id:
                groups.setdefault(item.message_id, []).append(item)
        return groups

    def for_recipient(self, address: str) -> list[Received]:
        address = address.lower()
        return [item for item in self.received if address in (rcpt.lower() for rcpt in item.rcpt_tos)]

    def _count_attempt(self) -> None:
        with self._lock:
            self._attempts += 1
            self._in_flight += 1

    def _done(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _record(self, item: Received) -> None:
        with self._lock:
            self._received.append(item)


class _Handler:
    """aiosmtpd hooks; they run in the sink's event-loop thread."""

    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.sink.refuse_recipients:
            return SmtpSink.NO_SUCH_USER
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        sink = self.sink
        sink._count_attempt()
        try:
            return await self._answer(sink, envelope)
        finally:  # also when the client vanished mid-delay and the session was cancelled
            sink._done()

    async def _answer(self, sink: SmtpSink, envelope) -> str:
        if sink.delay_seconds > 0:
            await asyncio.sleep(sink.delay_seconds)
        while sink.holding:
            await asyncio.sleep(0.01)
        if sink.garbage:
            return SmtpSink.GARBAGE
        refusal = sink.refuse_data  # read once: the test thread may change it meanwhile
        if refusal:
            return refusal
        sink._record(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=tuple(envelope.rcpt_tos),
                data=bytes(envelope.content),
                received_at=time.time(),
            )
        )
        return "250 Message accepted for delivery"


@contextmanager
def running_sink(port: int | None = None) -> Iterator[SmtpSink]:
    """A started sink, stopped afterwards: `with running_sink() as sink:` or yield it from a fixture."""
    sink = SmtpSink(port)
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()
