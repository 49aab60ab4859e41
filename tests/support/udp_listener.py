"""A real UDP socket standing in for a StatsD server."""

from __future__ import annotations

import socket
from contextlib import contextmanager


@contextmanager
def udp_listener():
    """A non-blocking UDP socket on 127.0.0.1 and a free port, closed afterwards."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    try:
        yield sock
    finally:
        sock.close()


def received(sock) -> list[str]:
    """Every line that has arrived so far (one datagram may carry several)."""
    lines = []
    while True:
        try:
            lines += sock.recv(65536).decode().splitlines()
        except BlockingIOError:
            return lines
