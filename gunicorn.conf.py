"""gunicorn settings for Heroku (and honcho): read by `gunicorn --config gunicorn.conf.py`.

Modelled on heroku/python-getting-started. Heroku's buildpack also sets
GUNICORN_CMD_ARGS="--access-logfile -", which matches what is set here.
"""

import gc
import os
import signal
import sys

# The workers share the preloaded app's pages (Python's gc.freeze recipe): the master
# never collects, so loading the app (these imports load its modules) leaves no freed
# holes in them; pre_fork freezes what it holds, and each worker collects again but
# skips those objects, so its collections never copy their pages. docs/BENCHMARKS.md.
gc.disable()

from blasto.core.config import statsd_config  # noqa: E402  (after gc.disable: they load the app's modules)
from blasto.core.env import ConfigError, env_int  # noqa: E402
from blasto.core.logs import gunicorn_logconfig  # noqa: E402

try:
    _port = env_int(os.environ, "PORT", 5000, minimum=1, maximum=65535)
    # The buildpack sets WEB_CONCURRENCY from the dyno's RAM (2 on 512 MB dynos).
    _workers = env_int(os.environ, "WEB_CONCURRENCY", 2, minimum=1, maximum=64)
    _threads = env_int(os.environ, "GUNICORN_THREADS", 4, minimum=1, maximum=64)
    _statsd = statsd_config(os.environ)
except ConfigError as exc:
    print(f"blasto: cannot start: {exc}", file=sys.stderr, flush=True)
    raise SystemExit(3) from None

# Heroku routes to $PORT; binding to [::] accepts IPv4 and IPv6.
bind = [f"[::]:{_port}"]
workers = _workers
# Threads let a worker wait on Postgres or Redis without blocking the others.
worker_class = "gthread"
threads = _threads
# Import the app once in the master: faster boots, pages shared between workers.
# Nothing connects at import; post_fork drops anything inherited anyway.
preload_app = True
# Heroku's router gives up after 30 s (H12) and sends SIGKILL 30 s after SIGTERM:
# on SIGTERM requests in flight get graceful_timeout to finish, well inside that.
timeout = 20
graceful_timeout = 20
# Heroku's router keeps idle connections for 90 s; stay above it.
keepalive = 95

accesslog = "-"
# logfmt, like the router and the app; the request id is the response header,
# which the app sets from X-Request-Id or generates. The path is %(U)s, without
# its query string (which can carry a token); never %(r)s, %(q)s, the Referer,
# Authorization or Cookie headers, nor the client's address, which is personal
# data; the router's own log line, with the same request_id, has it
# (tests/functional/test_no_secrets_in_logs.py).
access_log_format = (
    'at=info logger=gunicorn.access request_id=%({x-request-id}o)s method=%(m)s path="%(U)s" '
    'status=%(s)s bytes=%(B)s duration_ms=%(M)s user_agent="%(a)s"'
)
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logconfig_dict = gunicorn_logconfig(loglevel.upper())
# With STATSD_HOST, gunicorn's own StatsD metrics (gunicorn.requests,
# gunicorn.request.duration, gunicorn.workers...) under STATSD_PREFIX; plain
# StatsD, no Datadog tags. Without it gunicorn sends nothing.
if _statsd:
    _host = _statsd["host"]
    statsd_host = f"[{_host}]:{_statsd['port']}" if ":" in _host else f"{_host}:{_statsd['port']}"
    statsd_prefix = _statsd["prefix"]
    dogstatsd_tags = ""
# No `gunicorn.ctl` control socket in $HOME: dynos have no use for it.
control_socket_disable = True


def pre_fork(server, worker):
    """Move everything the master holds to the permanent generation: a worker's collections never write to it."""
    gc.freeze()


def post_fork(server, worker):
    """Make a new worker stoppable at once, collect its own garbage, and give it its own connections."""
    gc.enable()
    # Heroku and honcho send SIGTERM to the whole process group. A worker that
    # dies of it is replaced before the master handles its own copy, and the
    # replacement inherits the master's handler, which only queues the signal:
    # it would ignore the master's SIGTERM until graceful_timeout. The default
    # action ends it instead; gunicorn installs the worker's handler on boot.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # A SIGTERM that landed between the fork and the line above ran the
    # master's handler in this child: it sits in the child's copy of the
    # master's queue, where nothing will read it. Honour it now.
    if _stop_was_queued(server):
        os._exit(0)
    application = sys.modules["blasto"].__dict__.get("APP")
    if application is None:  # another app under these settings (bench/)
        return
    from blasto.core.extensions import db

    with application.app_context():
        db.engine.dispose(close=False)


def _stop_was_queued(server) -> bool:
    """Drain this child's copy of the master's signal queue (a SimpleQueue in gunicorn 27); was a stop in it?"""
    pending = getattr(server, "SIG_QUEUE", None)
    seen = []
    while pending is not None and hasattr(pending, "get_nowait"):
        try:
            seen.append(pending.get_nowait())
        except Exception:  # queue.Empty
            break
    return any(sig in seen for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT))


def post_worker_init(worker):
    """On SIGTERM, close the listener at once: new connections are refused, none are reset."""
    from blasto.core.graceful import close_listeners_when_stopping

    close_listeners_when_stopping(worker)
