"""A form posted with a missing or expired CSRF token goes back to its form, not to a dead end.

Flask-WTF refuses the post before any view runs (nothing changes, as before);
instead of a 400 page the browser is sent back (303) to the page the form came
from, with "Your session expired; please try again" and, when the post came
from this site, what was typed kept in the session for that page to show once.
Never kept: passwords, tokens, hidden machinery (idempotency keys, digests),
anything long (the session is a cookie). A post from another site (a forgery,
not an expired session) gets the message but none of its values, so no one
can fill in a shopper's form from elsewhere.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import current_app, flash, request, session
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from blasto.web.error_pages import previous_page
from blasto.web.redirects import safe_next, see_other

EXPIRED_MESSAGE = "Your session expired; please try again."
KEPT_KEY = "kept_form"
NEVER_KEPT = re.compile(r"password|csrf|token|secret|card|idempotency|digest|next", re.IGNORECASE)
NEVER_KEPT_TYPES = frozenset({"PasswordField", "HiddenField", "CSRFTokenField", "SubmitField"})
MAX_VALUE_LENGTH = 300
MAX_KEPT_LENGTH = 1500


def back_to_form():
    """The 303 back to the form (or to the page that posted), or None when there is nowhere safe to go."""
    target = form_page() or previous_page()
    if target is None:
        return None
    flash(EXPIRED_MESSAGE, "error")
    session.pop(KEPT_KEY, None)
    if same_site_post():
        values = typed_values()
        if values:
            session[KEPT_KEY] = {"path": urlsplit(target).path, "values": values}
    return see_other(target)


def form_page() -> str | None:
    """This same address, if a GET of it is a page (the form posts to the page that shows it)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    try:
        adapter.match(request.path, method="GET")
    except HTTPException:
        return None
    return safe_next(request.full_path.rstrip("?"))


def same_site_post() -> bool:
    """The browser says the post came from one of this site's pages (Fetch metadata, Origin, or Referer)."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    origin = request.headers.get("Origin")
    if origin is not None:
        return urlsplit(origin).netloc == request.host
    return bool(request.referrer) and urlsplit(request.referrer).netloc == request.host


def typed_values() -> dict[str, list[str]]:
    kept: dict[str, list[str]] = {}
    size = 0
    for name in request.form:
        if NEVER_KEPT.search(name):
            continue
        values = [value for value in request.form.getlist(name) if len(value) <= MAX_VALUE_LENGTH]
        length = sum(len(value) for value in values) + len(name)
        if values and size + length <= MAX_KEPT_LENGTH:
            kept[name] = values
            size += length
    return kept


def restore_typed(form) -> bool:
    """Put back what was typed into `form` before its session expired (once); True if anything was."""
    kept = session.get(KEPT_KEY)
    if not isinstance(kept, dict) or kept.get("path") != request.path:
        return False
    session.pop(KEPT_KEY)
    values = kept.get("values")
    restored = False
    for name, field in form._fields.items():
        if not isinstance(values, dict) or name not in values or NEVER_KEPT.search(name):
            continue
        if field.type in NEVER_KEPT_TYPES or not isinstance(values[name], list):
            continue
        field.process(MultiDict([(name, str(value)) for value in values[name]]))
        restored = True
    return restored
