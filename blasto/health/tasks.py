"""Tasks the health checks send through the broker to a worker."""
import os
import socket

from celery import shared_task


@shared_task(name="blasto.health.ping", ignore_result=False, acks_late=False)
def ping(nonce: str) -> dict:
    """Echo the nonce so the caller knows this answer is for its own message."""
    return {"pong": nonce, "worker": f"{socket.gethostname()}:{os.getpid()}"}
