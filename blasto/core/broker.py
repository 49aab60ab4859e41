"""The server-less broker used when REDIS_URL is not set.

kombu's SQLAlchemy transport on a SQLite file lets web and worker share a queue
with nothing installed. Its default poll (1 s) would make every task wait up to
a second; kombu also hands all transport options to `create_engine`, so the
interval cannot be passed as an option and is set on this subclass instead.
"""

from kombu.transport.sqlalchemy import Transport

POLL_SECONDS = 0.1


class EmbeddedTransport(Transport):
    polling_interval = POLL_SECONDS


# For Celery's `broker_transport` setting (kombu refuses import paths in URLs).
TRANSPORT = f"{__name__}:{EmbeddedTransport.__name__}"
