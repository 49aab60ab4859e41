"""Where to send a shopper after a form: only somewhere on this site.

A `next` taken from the query string or a form is attacker-controlled, so it
is accepted only as a plain relative path: one leading `/`, no `//` (a
scheme-relative URL), no backslash (browsers read `/\\evil.com` as
`//evil.com`), no whitespace or control characters (browsers strip tabs and
newlines, turning `/\\t/evil.com` into `//evil.com`), no scheme or host.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import redirect, request

MAX_NEXT_LENGTH = 2000


def safe_next(target: str | None) -> str | None:
    """`target` if it is a same-site relative path, else None."""
    if not target or len(target) > MAX_NEXT_LENGTH:
        return None
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def next_from_request() -> str | None:
    """The safe `next` from the form, else from the query string."""
    return safe_next(request.form.get("next")) or safe_next(request.args.get("next"))


def see_other(location: str):
    """Redirect after a POST so reloading the page does not post again."""
    return redirect(location, code=303)
