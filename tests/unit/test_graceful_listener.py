"""The stopping worker's listener: queued connections are answered, new ones refused, none reset.

Real sockets on loopback; the worker is a stand-in with gunicorn's shape
(`sockets`, `ppid`, `accept`), since what is under test is the kernel's
behaviour around the listener, not gunicorn's loop (tests/e2e covers that).
"""
from __future__ import annotations

import os
import socket
import sys
import threading

import pytest

from blasto.graceful import drain_and_close, refuse_new_connections
from tests.support.processes import wait_for

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="socket filters are Linux's")


class Listener:
    """gunicorn's listener wrapper: the socket is `.sock`, and it closes and selects like one."""

    def __init__(self, sock: socket.socket):
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()


class Worker:
    def __init__(self, listener: Listener):
        self.sockets = [listener]
        self.ppid = os.getppid()  # a process that does not hold the listener: the master has let go
        self.accepted: list[socket.socket] = []

    def accept(self, listener: Listener) -> None:
        connection, _ = listener.sock.accept()
        self.accepted.append(connection)


@pytest.fixture
def listener():
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.bind(("::", 0))
    sock.listen(64)
    yield Listener(sock)
    sock.close()


def port_of(listener: Listener) -> int:
    return listener.sock.getsockname()[1]


def test_after_the_filter_a_new_handshake_does_not_complete_but_a_queued_one_is_still_accepted(listener):
    queued = socket.create_connection(("127.0.0.1", port_of(listener)), timeout=2)
    queued.sendall(b"GET / HTTP/1.1\r\n\r\n")

    assert refuse_new_connections(listener)

    with pytest.raises(TimeoutError):
        socket.create_connection(("127.0.0.1", port_of(listener)), timeout=0.3)
    accepted, _ = listener.sock.accept()
    assert accepted.recv(100).startswith(b"GET / HTTP/1.1")
    accepted.sendall(b"answered")
    assert queued.recv(100) == b"answered"
    accepted.close()
    queued.close()


def test_stopping_under_a_stream_of_connections_answers_every_one_that_connected(listener):
    """Clients keep connecting while the worker stops: each either is refused or gets its answer."""
    port = port_of(listener)
    worker = Worker(listener)
    connected: list[socket.socket] = []
    refused: list[int] = []
    other: list[BaseException] = []
    lock = threading.Lock()

    def hammer(n: int) -> None:
        while True:
            try:
                client = socket.create_connection(("127.0.0.1", port), timeout=5)
                client.sendall(b"request")
            except ConnectionRefusedError:
                with lock:
                    refused.append(n)
                return
            except OSError as exc:
                with lock:
                    other.append(exc)
                return
            with lock:
                connected.append(client)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(connected) >= 20, 10, interval=0.005, what="clients connecting")
    drain_and_close(worker)
    for thread in threads:
        thread.join(10)

    assert other == []
    assert sorted(refused) == [0, 1, 2], "every client ends refused once the listener is gone"
    assert len(worker.accepted) == len(connected), "every handshake that completed was accepted"
    for server_side in worker.accepted:
        assert server_side.recv(100) == b"request"
        server_side.sendall(b"ok")
        server_side.close()
    for client in connected:
        assert client.recv(10) == b"ok"  # a reset would raise here
        client.close()


def test_a_connect_caught_by_the_filter_is_refused_once_the_listener_closes(listener):
    """The client's kernel retransmits the dropped SYN and meets a closed port: refused, not reset."""
    port = port_of(listener)
    assert refuse_new_connections(listener)
    outcome: dict[str, object] = {}

    def connect() -> None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=10).close()
            outcome["result"] = "connected"
        except OSError as exc:
            outcome["result"] = exc

    thread = threading.Thread(target=connect)
    thread.start()
    wait_for(lambda: _syn_sent_to(port), 5, interval=0.01, what="the client's SYN waiting for an answer")
    listener.close()
    thread.join(10)
    assert isinstance(outcome["result"], ConnectionRefusedError), outcome["result"]


def _syn_sent_to(port: int) -> bool:
    """Is a connection to `port` in SYN-SENT (state 02 in /proc/net/tcp)?"""
    target = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                next(rows)
                for row in rows:
                    fields = row.split()
                    if fields[2].endswith(target) and fields[3] == "02":
                        return True
        except OSError:
            continue
    return False
