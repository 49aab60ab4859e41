"""gunicorn settings for Heroku (and honcho): read by `gunicorn --config gunicorn.conf.py`.

Modelled on heroku/python-getting-started. Heroku's buildpack also sets
GUNICORN_CMD_ARGS="--access-logfile -", which matches what is set here.
"""
import os
import signal
import sys

from blasto.config import ConfigError, _int
from blasto.logs import gunicorn_logconfig

try:
    _port = _int(os.environ, "PORT", 5000, minimum=1, maximum=65535)
    # The buildpack sets WEB_CONCURRENCY from the dyno's RAM (2 on 512 MB dynos).
    _workers = _int(os.environ, "WEB_CONCURRENCY", 2, minimum=1, maximum=64)
    _threads = _int(os.environ, "GUNICORN_THREADS", 4, minimum=1, maximum=64)
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
# Heroku's router gives up after 30 s (H12) and sends SIGKILL 30 s after SIGTERM.
timeout = 20
graceful_timeout = 20
# Heroku's router keeps idle connections for 90 s; stay above it.
keepalive = 95

accesslog = "-"
# logfmt, like the router and the app; the request id is the response header,
# which the app sets from X-Request-Id or generates.
access_log_format = (
    'at=info logger=gunicorn.access request_id=%({x-request-id}o)s method=%(m)s path="%(U)s" '
    'status=%(s)s bytes=%(B)s duration_ms=%(M)s fwd="%({x-forwarded-for}i)s" user_agent="%(a)s"'
)
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logconfig_dict = gunicorn_logconfig(loglevel.upper())
# No `gunicorn.ctl` control socket in $HOME: dynos have no use for it.
control_socket_disable = True


def post_fork(server, worker):
    """Make a new worker stoppable at once, and give it its own connections."""
    # Heroku and honcho send SIGTERM to the whole process group. A worker that
    # dies of it is replaced before the master handles its own copy, and the
    # replacement inherits the master's handler, which only queues the signal:
    # it would ignore the master's SIGTERM until graceful_timeout. The default
    # action ends it instead; gunicorn installs the worker's handler on boot.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    application = sys.modules["blasto"].__dict__.get("APP")
    if application is None:  # another app under these settings (bench/)
        return
    from blasto.extensions import db

    with application.app_context():
        db.engine.dispose(close=False)
