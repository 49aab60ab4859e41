"""Celery's Redis result backend, read by polling instead of pub/sub.

The stock backend subscribes the sending process to a pub/sub channel for each
task it sends (`on_task_call`), through one consumer per process. Under
gunicorn's threads that consumer is shared and not thread-safe, and when Redis
is down it retries for ~20 s inside the request, then asks for a process
restart. Web code here never blocks on a result; what does wait (readiness)
polls `get_task_meta` with a deadline, and `AsyncResult.get` polls too.
"""
from functools import partial

import redis
from celery.backends.base import SyncBackendMixin
from celery.backends.redis import RedisBackend

POOL_WAIT_SECONDS = 5


class PolledRedisBackend(SyncBackendMixin, RedisBackend):
    """SyncBackendMixin first: waiting polls, as every non-Redis backend does."""

    def __init__(self, *args, **kwargs):
        # One backend per process (result_backend_thread_safe): threads wait for one of
        # redis_max_connections instead of failing with "Too many connections".
        kwargs.setdefault("connection_pool", partial(redis.BlockingConnectionPool, timeout=POOL_WAIT_SECONDS))
        super().__init__(*args, **kwargs)

    def on_task_call(self, producer, task_id):
        """Do not subscribe: results are read when asked for."""


# Celery resolves a `module:Class+redis://...` result backend URL.
PREFIX = f"{__name__}:{PolledRedisBackend.__name__}"
