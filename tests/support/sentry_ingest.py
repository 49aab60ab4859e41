"""A stand-in for Sentry's ingest: an HTTP server in a thread that keeps every envelope it is sent.

The SDK POSTs envelopes to `/api/<project>/envelope/` of the DSN's host,
compressed (brotli when it can import it, else gzip): a JSON header line, then
items, each a JSON header line (with `length` when the payload may hold
newlines) and its payload.
"""

from __future__ import annotations

import gzip
import importlib
import json
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROJECT_ID = 42
PUBLIC_KEY = "0123456789abcdef0123456789abcdef"


@dataclass
class Envelope:
    path: str
    body: bytes  # decompressed, exactly as sent
    header: dict
    items: list[tuple[dict, bytes]] = field(default_factory=list)

    def payloads(self, item_type: str) -> list[dict]:
        return [json.loads(payload) for header, payload in self.items if header.get("type") == item_type]


def parse_envelope(path: str, body: bytes) -> Envelope:
    lines = body.split(b"\n", 1)
    envelope = Envelope(path, body, json.loads(lines[0]))
    rest = lines[1] if len(lines) > 1 else b""
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        header = json.loads(item_line)
        if "length" in header:
            payload, rest = rest[: header["length"]], rest[header["length"] :]
            rest = rest[1:] if rest.startswith(b"\n") else rest
        else:
            payload, _, rest = rest.partition(b"\n")
        envelope.items.append((header, payload))
    return envelope


def _decompressed(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        # The SDK picks brotli only when it can import it (it comes in with locust), and then so can this.
        return importlib.import_module("brotli").decompress(body)
    if encoding in ("", "identity"):
        return body
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


class SentryIngest:
    """`with SentryIngest() as ingest:` then `ingest.dsn`; `ingest.events()` is what arrived so far."""

    def __init__(self):
        self._lock = threading.Lock()
        self._envelopes: list[Envelope] = []
        self.requests = 0  # every request, envelope or not
        ingest = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with ingest._lock:
                    ingest.requests += 1
                if self.path.rstrip("/") != f"/api/{PROJECT_ID}/envelope":
                    self.send_error(404)
                    return
                envelope = parse_envelope(self.path, _decompressed(body, self.headers.get("Content-Encoding", "")))
                with ingest._lock:
                    ingest._envelopes.append(envelope)
                answer = json.dumps({"id": envelope.header.get("event_id")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):  # keep the test's output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="sentry-ingest", daemon=True)

    @property
    def dsn(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{PUBLIC_KEY}@{host}:{port}/{PROJECT_ID}"

    def envelopes(self) -> list[Envelope]:
        with self._lock:
            return list(self._envelopes)

    def events(self) -> list[dict]:
        """Error events (not sessions or client reports), in the order they arrived."""
        return [event for envelope in self.envelopes() for event in envelope.payloads("event")]

    def __enter__(self) -> SentryIngest:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
