"""A stopping gunicorn worker stops the handshakes, answers what is queued, then closes its listener.

On SIGTERM the master closes its copy of the listening socket, and each
gthread worker stops accepting but keeps its own copy open until its last
request is answered. Meanwhile the kernel goes on completing handshakes into
the backlog, which no one accepts, and resets them all when the last copy
closes: requests the client had already sent, lost (Heroku's router answers
them H13). No order of accept() and close() can fix that alone: a handshake
can complete between the last accept and the close.

So, once the master has let go (the whole server is stopping), the worker
attaches a socket filter that drops new SYNs on the shared listening socket.
Handshakes already under way still complete and are accepted and answered
(with `Connection: close`); a new client's kernel retransmits its SYN a
second later, finds the port closed and reports "connection refused", which
the router retries on another dyno. Where the filter cannot be attached (not
Linux), the listener is drained and closed at once, which leaves only the
last instant's race.

When the master keeps its copy (one worker restarted, the others still
serving), the worker only closes its own copy: the others accept the rest.
"""

from __future__ import annotations

import ctypes
import os
import select
import socket
import struct
import time

MASTER_CLOSE_WAIT_SECONDS = 1.0
# Long enough for a handshake already under way when the filter went on to
# complete (a round trip, plus scheduling), short beside graceful_timeout.
HANDSHAKE_SETTLE_SECONDS = 0.05
_POLL_SECONDS = 0.005
_MAX_DRAIN = 10_000

SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)  # Linux <asm-generic/socket.h>
# Classic BPF on a TCP socket sees the packet from its TCP header: byte 13 holds
# the flags. Drop a bare SYN (a new connection); keep everything else.
_DROP_NEW_CONNECTIONS = (
    (0x30, 0, 0, 13),  # ldb [13]
    (0x54, 0, 0, 0x12),  # and #(SYN|ACK)
    (0x15, 0, 1, 0x02),  # jeq #SYN, next, skip 1
    (0x06, 0, 0, 0),  # ret #0: drop
    (0x06, 0, 0, 0xFFFFFFFF),  # ret #-1: keep the whole packet
)


def close_listeners_when_stopping(worker) -> None:
    """gunicorn `post_worker_init` hook body; only the gthread worker has the hook point."""
    original = getattr(worker, "set_accept_enabled", None)
    if original is None:
        return

    def set_accept_enabled(enabled: bool) -> None:
        original(enabled)
        if not enabled and not worker.alive:  # the stop path, not "too many connections"
            drain_and_close(worker)

    worker.set_accept_enabled = set_accept_enabled


def drain_and_close(worker) -> None:
    listeners = [listener for listener in worker.sockets if getattr(listener, "sock", None) is not None]

    def master_let_go() -> bool:
        return not _held_by(worker.ppid, listeners)

    _accept_until(worker, listeners, master_let_go, MASTER_CLOSE_WAIT_SECONDS)
    if listeners and master_let_go():
        filtered = [listener for listener in listeners if refuse_new_connections(listener)]
        _accept_until(worker, filtered, lambda: False, HANDSHAKE_SETTLE_SECONDS)
    for listener in listeners:
        _accept_queued(worker, listener)
        listener.close()


def _accept_until(worker, listeners, done, seconds: float) -> None:
    """Keep accepting what queues on `listeners` until `done()` or `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while listeners and not done() and time.monotonic() < deadline:
        for listener in listeners:
            _accept_queued(worker, listener)
        time.sleep(_POLL_SECONDS)


def refuse_new_connections(listener) -> bool:
    """Attach the SYN-dropping filter to `listener`'s socket; False where the kernel will not."""
    program = (ctypes.c_uint64 * len(_DROP_NEW_CONNECTIONS))(
        *(struct.unpack("=Q", struct.pack("=HBBI", *op))[0] for op in _DROP_NEW_CONNECTIONS)
    )
    # struct sock_fprog { unsigned short len; struct sock_filter *filter; }, native layout
    fprog = struct.pack("HP", len(_DROP_NEW_CONNECTIONS), ctypes.addressof(program))
    try:
        listener.sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    except (OSError, AttributeError):
        return False
    return True


def _accept_queued(worker, listener) -> None:
    """Accept every connection already in the backlog (gunicorn queues each to a thread)."""
    for _ in range(_MAX_DRAIN):
        try:
            ready, _, _ = select.select([listener], [], [], 0)
            if not ready:
                return
            worker.accept(listener)
        except (OSError, ValueError):
            return


def _held_by(pid: int, listeners) -> bool:
    """Does process `pid` still have one of these sockets open? False when /proc cannot tell."""
    inodes = {f"socket:[{os.fstat(listener.fileno()).st_ino}]" for listener in listeners}
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for name in names:
        try:
            if os.readlink(f"/proc/{pid}/fd/{name}") in inodes:
                return True
        except OSError:
            continue
    return False
