r"""The request class: two ways a client's bytes could turn into a 500 or a silent cut.

- A raw non-UTF-8 query string (`GET /books?q=\xff`): Werkzeug 3 decodes it
  strictly the first time `request.args` is read, so the UnicodeDecodeError
  would surface in whichever view reads it, as a 500. It is a 400 saying what
  to fix. (gunicorn refuses such request lines itself; other servers, `flask
  run` among them, pass them on. Raw bytes in a form body are no problem:
  Werkzeug's form parser reads that body as an empty form.)
- A streamed (chunked) body over MAX_CONTENT_LENGTH: Werkzeug reads it up to
  the limit and stops without looking further, so the app would see a body
  cut at 1 MiB (invalid JSON, a truncated form) instead of a 413. The stream
  here reads one byte past the limit: if it gets it, the body is too large.
"""

from __future__ import annotations

from flask import Request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream

NOT_UTF8 = "The query string is not valid UTF-8; percent-encode it (e.g. %C3%A9 for é)."


class StrictRequest(Request):
    @cached_property
    def args(self):
        try:
            return super().args
        except UnicodeDecodeError:
            raise BadRequest(NOT_UTF8) from None

    @cached_property
    def stream(self):
        stream = super().stream
        if self.content_length is None and self.max_content_length is not None and isinstance(stream, LimitedStream):
            return _StreamUpToMax(self.environ["wsgi.input"], self.max_content_length)
        return stream


class _StreamUpToMax(LimitedStream):
    """A body of unknown length: 413 as soon as it goes one byte past `maximum`."""

    def __init__(self, stream, maximum: int):
        super().__init__(stream, maximum + 1, is_max=True)
        self.maximum = maximum
        self.seen = 0

    def readinto(self, b) -> int | None:
        count = super().readinto(b)
        self.seen += count or 0
        if self.seen > self.maximum:
            raise RequestEntityTooLarge()
        return count
