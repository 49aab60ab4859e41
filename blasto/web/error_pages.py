"""What an error page says to a shopper: a plain heading, a sentence, and a way back.

Werkzeug's names ("Bad Request", "Method Not Allowed") and its default
descriptions are written for developers; a shopper gets a heading in plain
words instead. A message the code chose on purpose (a form that expired, a
limit with its wait, "That book is not for sale") is kept, since it says more
than any default. The "previous page" link is offered only when the Referer is
this site (never a link out to wherever the visitor came from) and is not the
page that failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import request
from werkzeug.exceptions import HTTPException, default_exceptions

from blasto.web.redirects import safe_next


@dataclass(frozen=True)
class Words:
    heading: str
    sentence: str


WORDS: dict[int, Words] = {
    400: Words("We couldn't use that request", "Something in the link or the form was not what we expected."),
    403: Words(
        "This page isn't open to you", "Your account cannot open this page. Log in with another account or go back."
    ),
    404: Words(
        "We couldn't find that page", "The link may be old or mistyped, or the book is no longer in our catalogue."
    ),
    405: Words("That page can't be used that way", "The page exists, but not for what the browser asked of it."),
    413: Words("That was too much to send", "What you sent is larger than we accept. Send something smaller."),
    429: Words("Please slow down a moment", "You've made many requests in a short time."),
    500: Words("Something went wrong on our side", "It has been logged; please try again in a moment."),
    503: Words(
        "We're briefly unavailable", "Part of the shop is not answering right now; please try again in a minute."
    ),
}
OTHER = Words("Something didn't work", "We couldn't complete that request.")


def words_for(exc: HTTPException, message: str) -> Words:
    """The heading for `exc`'s code, and its own message unless it is Werkzeug's default."""
    code = exc.code or 500
    words = WORDS.get(code) or (WORDS[500] if code >= 500 else OTHER)
    default = getattr(default_exceptions.get(code), "description", None)
    if message and message != default:
        return Words(words.heading, message)
    if code == 429 and (seconds := retry_after(exc)):
        return Words(words.heading, f"{words.sentence} Please wait {seconds} seconds and try again.")
    return words


def retry_after(exc: HTTPException) -> str | None:
    for key, value in exc.get_headers():
        if key.lower() == "retry-after" and value.isdigit():
            return value
    return None


def previous_page() -> str | None:
    """The Referer as a path on this site, unless it is the page that failed (or not safe to link to)."""
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.netloc != request.host or parts.scheme not in ("http", "https"):
        return None
    target = safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))
    if target is None or parts.path == request.path:
        return None
    return target
