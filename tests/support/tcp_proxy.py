"""A TCP proxy the test can take down and bring back, to fake a Postgres or Redis outage.

Stopping the shared Postgres server would break every other test running on
the machine; putting this proxy between the app and Postgres lets one test cut
its own app off instead. `down()` closes the listening socket (new connections
are refused, as when the server is gone) and aborts every open connection (as
when the server or the network drops); `up()` listens again on the same port.
Asyncio on a thread of its own, so the test's thread stays free to make requests.
With `ssl_context` it ends TLS itself and speaks plain TCP upstream
(tests/support/tls_redis.py). `hold()` is the other outage, a server that
takes connections and never answers: new connections are accepted and left
hanging (counted in `held`) until `release()`, so a client is caught mid-call.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from typing import Self

from tests.support.processes import free_port


class TcpProxy:
    def __init__(
        self,
        target_host: str,
        target_port: int,
        port: int | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ):
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self.ssl_context = ssl_context
        self.accepted = 0  # connections taken since start, across up/down
        self.held = 0  # connections accepted while holding, never answered
        self._holding = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"tcp-proxy-{self.port}", daemon=True)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self._held: set[asyncio.StreamWriter] = set()

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def up(self) -> Self:
        """Listen on 127.0.0.1:port; returns once the port accepts connections."""
        if not self._thread.is_alive():
            self._thread.start()
        self._call(self._listen())
        return self

    def down(self) -> None:
        """Refuse new connections and cut the open ones; returns once both are done."""
        self._call(self._shut())

    def hold(self) -> None:
        """From now on accept connections but never forward or answer them (until release())."""
        self._holding = True

    def release(self) -> None:
        """Forward new connections again; those held so far are cut (their clients have given up or died)."""
        self._holding = False
        self._call(self._cut_held())

    async def _cut_held(self) -> None:
        for writer in list(self._held):
            writer.transport.abort()
        self._held.clear()

    def close(self) -> None:
        if self._thread.is_alive():
            self.down()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> Self:
        return self.up()

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, coroutine, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _listen(self) -> None:
        if self._server is None:
            # SO_REUSEADDR (asyncio's default on Unix): the port is free again
            # at once after down(), despite the cut connections' TIME_WAIT.
            self._server = await asyncio.start_server(
                self._serve,
                "127.0.0.1",
                self.port,
                family=socket.AF_INET,
                ssl=self.ssl_context,
            )

    async def _shut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()  # the listening socket is closed now: connect() is refused
        for writer in list(self._pipes) + list(self._held):
            writer.transport.abort()
        self._pipes.clear()
        self._held.clear()
        if server is not None:
            await server.wait_closed()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self._holding:
            self.held += 1
            self._held.add(client_writer)
            return  # the connection stays open, unanswered, until release() or close() cuts it
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        pair = {client_writer, upstream_writer}
        if self._server is None:  # went down while connecting upstream
            for writer in pair:
                writer.transport.abort()
            return
        self._pipes |= pair
        try:
            await asyncio.gather(_copy(client_reader, upstream_writer), _copy(upstream_reader, client_writer))
        finally:
            self._pipes -= pair
            for writer in pair:
                writer.transport.abort()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        if not writer.transport.is_closing():
            writer.transport.abort()  # one side gone: drop the other, as a real cut would
