"""The whole shop as Heroku runs it, for tests that drive a real browser.

One call builds what a review app has: a fresh Postgres database with the
committed migrations applied by the Procfile's own `release` command, the
sample catalogue loaded by `flask --app blasto seed` (the review apps'
postdeploy), then `honcho start web worker clock` from the real `Procfile` on
a free port, in production mode, on the tests' Redis database, with
an SMTP sink (aiosmtpd) receiving the e-mails. The outbox sweeps and retries
are short, so a receipt is sent within a second or two.

Every wait is on a condition with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from blasto.core.config import database_uri
from tests.support.processes import BIN, ROOT, Stack, free_port, procfile, production_env, run_command
from tests.support.services import drop_database, fresh_database_url, redis_test_url
from tests.support.smtp_sink import SmtpSink

MAIL_FROM = "Blasto <shop@blasto.example>"
PROCESS_TYPES = ("web", "worker", "clock")


def stack_env(database_url: str, redis_url: str, smtp_url: str, public_url: str, **extra: str) -> dict:
    """Production settings (secure cookies, CSRF, a strong random SECRET_KEY) with a fast outbox."""
    settings = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SMTP_URL": smtp_url,
        "MAIL_FROM": MAIL_FROM,
        "PUBLIC_URL": public_url,
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "4",
        "WORKER_CONCURRENCY": "2",
        "OUTBOX_SWEEP_EVERY_SECONDS": "0.5",
        "OUTBOX_SWEEP_AFTER_SECONDS": "2",
        "OUTBOX_RETRY_BASE_SECONDS": "0.2",
        "OUTBOX_RETRY_MAX_SECONDS": "1",
        "LOG_LEVEL": "INFO",
        # `flask` must not read a developer's .env: everything comes from here.
        "FLASK_SKIP_DOTENV": "1",
    }
    settings.update(extra)
    return production_env(**settings)


@dataclass
class BrowserStack:
    """A running shop: its address, its environment, its database and its mailbox."""

    base: str
    env: dict = field(repr=False)
    database_url: str = field(repr=False)
    sink: SmtpSink = field(repr=False)
    honcho: Stack = field(repr=False)
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(database_uri(self.database_url, None), pool_size=2, max_overflow=0)
        return self._engine

    def url(self, path: str) -> str:
        return self.base + path

    def flask(self, *args: str, input: str | None = None, timeout: float = 120.0) -> subprocess.CompletedProcess:
        """`flask --app blasto ARGS` against this stack's database and broker (a one-off dyno).

        Its own session, so no controlling terminal: a password prompt (getpass
        tries /dev/tty first) reads `input` from stdin instead of the developer's terminal.
        """
        return subprocess.run(
            [str(BIN / "flask"), "--app", "blasto", *args],
            cwd=ROOT,
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )

    def check_flask(self, *args: str, input: str | None = None, timeout: float = 120.0) -> str:
        result = self.flask(*args, input=input, timeout=timeout)
        assert result.returncode == 0, (
            f"flask {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
        return result.stdout

    def rows(self, sql: str, **params) -> list:
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).all()

    def scalar(self, sql: str, **params):
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def output(self) -> str:
        """Everything web, worker and clock have logged so far (honcho's interleaved output)."""
        return self.honcho.output()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


@contextmanager
def browser_stack(
    work_dir: Path, postgres_admin_url: str, extra_env: dict[str, str] | None = None, redis_url: str | None = None
) -> Iterator[BrowserStack]:
    """release, seed, then `honcho start -f Procfile web worker clock`; everything is torn down on exit.

    `extra_env` adds settings (e.g. STRIPE_* for card payments); a second stack running beside the
    package's one passes a `redis_url` of its own, so neither's worker takes the other's tasks.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    empty_env_file = work_dir / "empty.env"  # honcho must not read a developer's .env
    empty_env_file.write_text("")
    with ExitStack() as cleanup:
        database_url, database_name = fresh_database_url(postgres_admin_url, prefix="blasto_browser")
        cleanup.callback(drop_database, postgres_admin_url, database_name)
        redis_url = redis_url or redis_test_url()  # emptied; nothing else uses it while the browser tests run
        sink = cleanup.enter_context(SmtpSink())
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = stack_env(database_url, redis_url, sink.url, base, **(extra_env or {}))
        for step in (procfile()["release"], "flask --app blasto seed"):
            result = run_command(step, env)  # through a shell, as Heroku runs a Procfile line
            assert result.returncode == 0, f"{step!r} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        honcho = Stack(
            ["start", "-f", "Procfile", "-e", str(empty_env_file), "-p", str(port), *PROCESS_TYPES],
            env,
            ROOT,
            work_dir / "honcho.log",
            port,
        )
        cleanup.callback(_stop, honcho)
        honcho.wait_ready()  # /readyz: database, broker, and a worker answering a round trip
        stack = BrowserStack(base=base, env=env, database_url=database_url, sink=sink, honcho=honcho)
        cleanup.callback(stack.close)
        yield stack


def _stop(honcho: Stack) -> None:
    try:
        honcho.stop(timeout=25)  # SIGTERM, as a dyno restart
    except AssertionError:
        pass  # stop() has SIGKILLed every process group honcho started
