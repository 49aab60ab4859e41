"""Malformed HTTP against the real web process: gunicorn from the Procfile, on Postgres and Redis.

The Flask test client cannot send what these tests send (a 64 KiB header,
raw non-UTF-8 bytes, lying Content-Lengths), so they talk to the `web`
process over raw sockets, production settings and all, as Heroku's router
would pass them on (X-Forwarded-Proto: https, so nothing is redirected).
Every answer must be a 4xx, never a 5xx, and the process must keep serving
and never log a traceback.
"""

from __future__ import annotations

import base64
import json
import socket

import pytest

from tests.support.processes import free_port, http_get, production_env, wait_for
from tests.support.procfile_processes import ProcessSet
from tests.support.report_databases import postgres_clone
from tests.support.services import redis_test_url

pytestmark = pytest.mark.processes

ROUTER = b"X-Forwarded-Proto: https\r\nX-Forwarded-For: 203.0.113.7\r\n"
MAX_BODY = 1024 * 1024  # blasto.core.config's MAX_CONTENT_LENGTH


class Web:
    """The running web process: raw exchanges, and checks that it is still healthy."""

    def __init__(self, process, port: int):
        self.process = process
        self.port = port
        self.log_offset = 0

    def exchange(self, raw: bytes, close_write: bool = False, timeout: float = 15.0) -> tuple[int | None, dict, bytes]:
        """Send raw bytes; return (status, headers, body) of the answer, or (None, {}, b"") if the server just closed."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            try:
                sock.sendall(raw)
                if close_write:
                    sock.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered and closed before reading everything: read its answer
            data = b""
            while True:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        if not lines[0].startswith("HTTP/"):
            return None, {}, b""
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(lines[0].split()[1]), headers, body

    def request(self, method: str, target: bytes, headers: bytes = b"", body: bytes = b"", **kwargs):
        raw = (
            method.encode()
            + b" "
            + target
            + b" HTTP/1.1\r\nHost: blasto.test\r\nConnection: close\r\n"
            + ROUTER
            + headers
            + b"\r\n"
            + body
        )
        return self.exchange(raw, **kwargs)

    def mark(self) -> None:
        self.log_offset = len(self.process.output(current_run=True))

    def assert_healthy(self) -> None:
        """Still answering, and nothing since `mark()` was logged as an unhandled exception."""
        status, _, _ = http_get(f"http://127.0.0.1:{self.port}/healthz")
        assert status == 200
        log = self.process.output(current_run=True)[self.log_offset :]
        assert "Traceback" not in log and "unhandled exception" not in log, log[-3000:]


@pytest.fixture(scope="module")
def web(postgres_admin, postgres_template, tmp_path_factory):
    """`web` from the Procfile on a fresh migrated Postgres database (a clone of the migrated template)."""
    redis_url = redis_test_url()
    with (
        postgres_clone(postgres_admin, postgres_template) as database_url,
        ProcessSet(tmp_path_factory.mktemp("web-logs")) as processes,
    ):
        port = free_port()
        # Rate limits off: these requests repeat log-ins and sign-ups on purpose, and a 429 would hide the answer under test.
        env = production_env(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            PORT=str(port),
            WEB_CONCURRENCY="1",
            GUNICORN_THREADS="4",
            RATELIMIT_ENABLED="false",
        )
        process = processes.start("web", env)

        def up():
            assert process.running, process.output()[-3000:]
            try:
                return http_get(f"http://127.0.0.1:{port}/healthz", timeout=2)[0] == 200
            except OSError:
                return False

        wait_for(up, 45, interval=0.1, what="the web process to answer /healthz")
        yield Web(process, port)


@pytest.fixture
def server(web):
    web.mark()
    yield web
    web.assert_healthy()


def assert_json_if_from_app(answer) -> None:
    """An API answer from the app is JSON; gunicorn refuses some bytes itself (a plain 400 page) before the app runs."""
    status, headers, _ = answer
    if "x-request-id" in headers:
        assert headers["content-type"].startswith("application/json"), (status, headers)
    else:
        assert status == 400, f"only gunicorn's own refusal may skip the app: {status}"


def assert_4xx(answer, what: str, allowed: tuple[int, ...] = ()) -> None:
    status = answer[0]
    assert status is not None, f"{what}: the connection closed without an answer"
    assert 400 <= status < 500 or status in allowed, f"{what}: {status} {answer[2][:300]!r}"


# -- headers -------------------------------------------------------------------------


def test_a_64_kib_header_is_refused(server):
    answer = server.request("GET", b"/home", b"X-Big: " + b"a" * 65536 + b"\r\n")
    assert_4xx(answer, "64 KiB header")


def test_a_64_kib_cookie_is_refused(server):
    assert_4xx(server.request("GET", b"/home", b"Cookie: session=" + b"a" * 65536 + b"\r\n"), "64 KiB cookie")


def test_hundreds_of_headers_are_refused(server):
    headers = b"".join(b"X-Many-%d: %d\r\n" % (n, n) for n in range(300))
    assert_4xx(server.request("GET", b"/home", headers), "300 headers")


@pytest.mark.parametrize(
    "value", [b"\xff\xfe\xfd", b"caf\xc3\xa9", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80", b"\x7f\x01"], ids=repr
)
@pytest.mark.parametrize(
    "name",
    [
        b"User-Agent",
        b"X-Request-Id",
        b"Cookie",
        b"Accept-Language",
        b"Referer",
        b"X-Forwarded-For",
        b"Authorization",
        b"If-None-Match",
    ],
)
def test_non_ascii_and_invalid_utf8_header_values_never_break_a_page_or_the_api(server, name, value):
    header = name + b": " + (b"Bearer " if name == b"Authorization" else b"") + value + b"\r\n"
    page = server.request("GET", b"/books", header)
    assert page[0] is not None and page[0] < 500, (name, value, page[0])
    api = server.request("GET", b"/api/v1/users/me", header)
    assert_4xx(api, f"{name!r}: {value!r} on the API")
    assert_json_if_from_app(api)


@pytest.mark.parametrize(
    "raw",
    [b"X-\xff\xfe: 1", b"X Space: 1", b"(Bad): 1", b": no-name", b"X-Folded: a\r\n b", b"X-Nul: a\x00b"],
    ids=repr,
)
def test_malformed_header_lines_are_refused(server, raw):
    answer = server.request("GET", b"/home", raw + b"\r\n")
    assert answer[0] is None or answer[0] < 500, (raw, answer[0])  # gunicorn answers 400 or drops the connection
    if answer[0] is not None:
        assert answer[0] in (200, 400), (raw, answer[0])


def basic(credentials: bytes) -> bytes:
    return b"Basic " + base64.b64encode(credentials)


AUTHORIZATIONS = [
    b"Bearer",
    b"Bearer ",
    b"Bearer  ",
    b"bearer x",
    b"BEARER x",
    b"Bearer a b c",
    b"Bearer " + b"t" * 4000,
    b"Bearer \x00",
    b"Basic",
    b"Basic ",
    b"Basic !!!not-base64!!!",
    b"Basic =",
    basic(b"no-colon"),
    basic(b":"),
    basic(b"\xff\xfe:\xff"),
    basic(b"a\x00@example.com:password"),
    basic(b"x" * 3000 + b":y"),
    basic(b"a@example.com:" + b"p" * 3000),
    b'Digest username="x", realm="y"',
    b"Token abc",
    b"\xff\xfe",
    b",,,",
    b"Basic " + b"A" * 5000,
]


@pytest.mark.parametrize("value", AUTHORIZATIONS, ids=lambda v: repr(v[:40]))
def test_malformed_authorization_is_a_401_in_json(server, value):
    header = b"Authorization: " + value + b"\r\n"
    for method, target, body in (
        ("GET", b"/api/v1/users/me", b""),
        ("POST", b"/api/v1/tokens", b""),
        ("POST", b"/api/v1/purchases", b"{}"),
    ):
        extra = b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body) if method == "POST" else b""
        answer = server.request(method, target, header + extra, body)
        assert_json_if_from_app(answer)
        if "x-request-id" in answer[1]:
            assert answer[0] == 401 and "www-authenticate" in answer[1], (value[:60], target, answer[0])
    page = server.request("GET", b"/books", header)
    assert page[0] == 200 or (page[0] == 400 and "x-request-id" not in page[1]), "pages ignore Authorization"


# -- Content-Length and bodies ---------------------------------------------------------


@pytest.mark.parametrize(
    "length", [b"-1", b"abc", b"1e3", b"", b"0x10", b"+5", b"5, 5", b"99999999999999999999999999"], ids=repr
)
def test_a_malformed_content_length_is_refused(server, length):
    body = b'{"email": "a@example.com"}'
    answer = server.request(
        "POST", b"/api/v1/users", b"Content-Type: application/json\r\nContent-Length: " + length + b"\r\n", body
    )
    assert_4xx(answer, f"Content-Length: {length!r}")


def test_two_different_content_lengths_are_refused(server):
    body = b'{"email": "a@example.com"}'
    answer = server.request(
        "POST",
        b"/api/v1/users",
        b"Content-Type: application/json\r\nContent-Length: 5\r\nContent-Length: %d\r\n" % len(body),
        body,
    )
    assert_4xx(answer, "two Content-Lengths")


def test_content_length_with_chunked_encoding_is_refused(server):
    """The classic request-smuggling shape (CL.TE): gunicorn must not guess."""
    answer = server.request(
        "POST",
        b"/api/v1/users",
        b"Content-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n",
        b"0\r\n\r\nGET /admin HTTP/1.1\r\n\r\n",
    )
    assert_4xx(answer, "Content-Length with chunked")


def test_a_body_shorter_than_its_content_length_is_refused(server):
    answer = server.request(
        "POST",
        b"/api/v1/users",
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n",
        b'{"email":',
        close_write=True,
    )
    assert_4xx(answer, "truncated body")


def test_a_content_length_over_the_limit_is_a_413_before_the_body_is_read(server):
    answer = server.request(
        "POST", b"/api/v1/users", b"Content-Type: application/json\r\nContent-Length: %d\r\n" % (50 * MAX_BODY), b"{"
    )
    assert answer[0] == 413 and answer[1]["content-type"].startswith("application/json")
    assert json.loads(answer[2])["error"] == "request_entity_too_large"


def test_a_json_body_over_the_limit_is_a_413_in_json(server):
    body = json.dumps({"name": "x" * (2 * MAX_BODY)}).encode()
    answer = server.request(
        "POST", b"/api/v1/users", b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body), body
    )
    assert answer[0] == 413 and answer[1]["content-type"].startswith("application/json"), answer[0]


def test_a_chunked_json_body_over_the_limit_is_a_413_in_json(server):
    chunk = b"x" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(2 * MAX_BODY // len(chunk))) + b"0\r\n\r\n"
    answer = server.request(
        "POST", b"/api/v1/users", b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n", chunks
    )
    assert answer[0] == 413 and answer[1]["content-type"].startswith("application/json"), answer[0]


def test_a_form_over_the_limit_is_a_413_page(server):
    body = b"email=a%40example.com&password=" + b"x" * (2 * MAX_BODY)
    answer = server.request(
        "POST",
        b"/login",
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n" % len(body),
        body,
    )
    assert answer[0] == 413 and answer[1]["content-type"].startswith("text/html"), answer[0]
    assert b"Traceback" not in answer[2]


# -- the request line ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        b"/books?q=\xff\xfe",
        b"/api/v1/products?q=\xff",
        b"/books/\xff",
        b"/\xc0\xaf",
        b"/books?q=%00",
        b"/" + b"a" * 3000,
        b"/books?" + b"q=a&" * 1500,
    ],
    ids=lambda t: repr(t[:40]),
)
def test_raw_bytes_and_odd_targets_are_client_errors(server, target):
    answer = server.request("GET", target)
    assert answer[0] is not None and answer[0] < 500, (target[:60], answer[0])
    if target.startswith(b"/api/"):
        assert_json_if_from_app(answer)
