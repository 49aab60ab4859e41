"""The stopping worker's listener: queued connections are answered, new ones refused, none reset.

Real sockets on loopback; the worker is a stand-in with gunicorn's shape
(`sockets`, `ppid`, `accept`), since what is under test is the kernel's
behaviour around the listener, not gunicorn's loop (tests/e2e covers that).
"""

from __future__ import annotations

import os
import select
import socket
import sys
import threading
from collections import deque

import pytest

from blasto.core.graceful import drain_and_close, refuse_new_connections
from tests.support.processes import wait_for

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="socket filters are Linux's")

GUNICORN_BACKLOG = 2048  # gunicorn's default `backlog`
# Beyond the kernel's SYN retries at 1, 3, 7, 15 and 31 s: a refusal, not our timeout, ends a connect.
CLIENT_TIMEOUT_SECONDS = 60
CLIENT_WINDOW = 8  # requests a client has in flight before it reads the oldest answer


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
    sock.listen(GUNICORN_BACKLOG)
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
    """Clients keep connecting while the worker stops: each either is refused or gets its answer.

    The stand-in accepts and answers as gunicorn's worker does until it stops, so the backlog never
    fills (a full one drops SYNs for reasons of its own), and a client's timeout outlasts the kernel's
    SYN retries: on a loaded machine the close can come seconds after a SYN was dropped.
    """
    port = port_of(listener)
    worker = Worker(listener)
    connected: list[int] = []
    answers: list[bytes] = []
    refused: list[int] = []
    other: list[BaseException] = []
    requests: list[bytes] = []
    lock = threading.Lock()
    serving = threading.Event()
    serving.set()

    def answer(connection: socket.socket) -> None:
        """Read the whole request, answer, close: what a gthread worker does with a connection."""
        connection.settimeout(CLIENT_TIMEOUT_SECONDS)
        request = b""
        while len(request) < len(b"request") and (chunk := connection.recv(100)):
            request += chunk
        requests.append(request)
        connection.sendall(b"ok")
        connection.close()

    def serve() -> None:  # gunicorn's loop: accept and answer while the worker is alive
        while serving.is_set():
            ready, _, _ = select.select([listener], [], [], 0.01)
            if ready:
                worker.accept(listener)
                answer(worker.accepted[-1])

    def read_answer(client: socket.socket) -> None:
        try:
            reply = client.recv(10)
        except OSError as exc:  # a reset lands here
            with lock:
                other.append(exc)
            return
        finally:
            client.close()
        with lock:
            answers.append(reply)

    def hammer(n: int) -> None:
        waiting: deque[socket.socket] = deque()
        while True:
            try:
                client = socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT_SECONDS)
            except ConnectionRefusedError:
                with lock:
                    refused.append(n)
                break
            except OSError as exc:
                with lock:
                    other.append(exc)
                break
            with lock:
                connected.append(n)
            waiting.append(client)
            try:
                client.sendall(b"request")
            except OSError as exc:
                with lock:
                    other.append(exc)
                break
            if len(waiting) >= CLIENT_WINDOW:
                read_answer(waiting.popleft())
        while waiting:
            read_answer(waiting.popleft())

    server = threading.Thread(target=serve)
    server.start()
    clients = [threading.Thread(target=hammer, args=(n,)) for n in range(3)]
    for thread in clients:
        thread.start()
    wait_for(lambda: len(worker.accepted) >= 20, 60, what="the worker answering a stream of clients")
    serving.clear()  # gunicorn's set_accept_enabled(False) on SIGTERM
    server.join(60)
    served = len(worker.accepted)
    wait_for(lambda: len(connected) > served, 60, what="a handshake queued behind the stopping worker")
    drain_and_close(worker)
    for connection in worker.accepted[served:]:
        answer(connection)
    wait_for(lambda: not any(thread.is_alive() for thread in clients), 120, what="every client refused")

    assert other == [], "no client was reset or left unanswered"
    assert sorted(refused) == [0, 1, 2], "every client ends refused once the listener is gone"
    assert len(worker.accepted) == len(connected) > served, "every handshake that completed was accepted"
    assert requests == [b"request"] * len(connected) and answers == [b"ok"] * len(connected), "and answered"


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
