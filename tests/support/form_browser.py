"""A small browser over Flask's test client: it reads forms from the HTML and posts them back.

Tests go through the real forms, CSRF tokens included: `submit` starts from
the values the page rendered (hidden fields too), overrides what a person
would type, and posts to the form's action; `log_in` does so on /login
with the factories' password.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

from tests.support.factories import PASSWORD, SHIPPING_ADDRESS

SUBMITS = ("submit", "image", "button", "reset")
RACE_DEADLINE_SECONDS = 30


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # (name, value) in page order
    inputs: list[dict] = field(default_factory=list)  # every control's attributes

    def value(self, name: str) -> str | None:
        return next((value for key, value in self.fields if key == name), None)

    def data(self, overrides: dict | None = None, drop: tuple[str, ...] = ()) -> dict:
        """The form's values with `overrides`; a checkout for a new address gets the one a shopper would type."""
        values = {key: value for key, value in self.fields if key not in drop}
        values.update(overrides or {})
        if urlsplit(self.action).path == "/checkout" and values.get("address") == "new":
            typed = overrides or {}
            values.update(
                {key: value for key, value in SHIPPING_ADDRESS.items() if not values.get(key) and key not in typed}
            )
        return values


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.labels_for: set[str] = set()
        self.ids: list[str] = []
        self.controls: list[dict] = []  # inputs anywhere on the page
        self.described_by: list[str] = []
        self._form: Form | None = None
        self._textarea: dict | None = None
        self._select: list | None = None  # [its field's index, no option seen yet] inside a <select>

    def handle_starttag(self, tag, attrs):
        attrs = {key: (value if value is not None else "") for key, value in attrs}
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if "aria-describedby" in attrs:
            self.described_by.extend(attrs["aria-describedby"].split())
        if tag == "label" and "for" in attrs:
            self.labels_for.add(attrs["for"])
        if tag == "form":
            self._form = Form(action=attrs.get("action", ""), method=attrs.get("method", "get").lower())
            self.forms.append(self._form)
        elif tag in ("input", "textarea", "select", "button"):
            control = {"tag": tag, **attrs}
            self.controls.append(control)
            if self._form is not None:
                self._form.inputs.append(control)
                kind = attrs.get("type", "text" if tag != "button" else "submit").lower()
                if tag == "textarea":
                    self._textarea = control
                elif tag == "select" and "name" in attrs:  # a browser sends the selected option, else the first
                    self._form.fields.append((attrs["name"], ""))
                    self._select = [len(self._form.fields) - 1, True]
                elif (
                    "name" in attrs
                    and kind not in SUBMITS
                    and (kind not in ("checkbox", "radio") or "checked" in attrs)
                ):
                    self._form.fields.append((attrs["name"], attrs.get("value", "on" if kind == "checkbox" else "")))

        elif tag == "option" and self._select is not None and self._form is not None:
            index, first = self._select
            if first or "selected" in attrs:
                self._form.fields[index] = (self._form.fields[index][0], attrs.get("value", ""))
            self._select[1] = False

    def handle_data(self, data):
        if self._textarea is not None and self._form is not None:
            self._form.fields.append((self._textarea["name"], data))
            self._textarea = None

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        if tag == "form":
            self._form = None


class Page:
    def __init__(self, response):
        self.response = response
        self.status = response.status_code
        # An image (the crawl visits /favicon.ico) has no text: its bytes are read as if they were, harmlessly.
        self.html = response.get_data().decode("utf-8", errors="replace")
        parser = _Parser()
        parser.feed(self.html)
        self.forms = parser.forms
        self.labels_for = parser.labels_for
        self.ids = parser.ids
        self.controls = parser.controls
        self.described_by = parser.described_by

    @property
    def text(self) -> str:
        """The page's visible-ish text, tags removed and whitespace collapsed."""
        return (
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", self.html))
            .replace("&#34;", '"')
            .replace("&#39;", "'")
            .replace("&amp;", "&")
            .strip()
        )

    def form(self, action: str, **hidden) -> Form:
        """The one form posting to `action` whose fields have these values (e.g. product_id=3)."""
        found = [
            form
            for form in self.forms
            if urlsplit(form.action).path == action
            and all(form.value(key) == str(value) for key, value in hidden.items())
        ]
        assert len(found) == 1, f"expected one form for {action} {hidden}, found {len(found)} in:\n{self.html}"
        return found[0]

    def has_form(self, action: str) -> bool:
        return any(urlsplit(form.action).path == action for form in self.forms)


class Browser:
    def __init__(self, client):
        self.client = client

    def get(self, url: str, **kwargs) -> Page:
        kwargs.setdefault("follow_redirects", True)
        return Page(self.client.get(url, **kwargs))

    def submit(
        self,
        page: Page,
        action: str,
        data: dict | None = None,
        drop: tuple[str, ...] = (),
        follow_redirects: bool = True,
        match: dict | None = None,
    ) -> Page:
        """Fill and post the page's form for `action`, as a person pressing its button would."""
        form = page.form(action, **(match or {}))
        assert form.method == "post", f"{action} is not a POST form"
        return Page(self.client.post(form.action, data=form.data(data, drop), follow_redirects=follow_redirects))

    def session_cookie(self) -> str | None:
        cookie = self.client.get_cookie("session")
        return cookie.value if cookie else None


def log_in(
    browser: Browser, email: str, password: str = PASSWORD, next_url: str | None = None, remember: bool = False
) -> Page:
    """Log in through the /login form (CSRF token included), optionally with ?next= and "remember me"."""
    url = "/login" + (f"?{urlencode({'next': next_url})}" if next_url else "")
    page = browser.get(url)
    data = {"email": email, "password": password}
    if remember:
        data["remember"] = "y"
    return browser.submit(page, "/login", data)


def race(posts: list[tuple[Browser, str, dict]]) -> list[tuple[int, str]]:
    """Send every POST at the same moment, one thread each; (status, Location) in order."""
    barrier = threading.Barrier(len(posts), timeout=RACE_DEADLINE_SECONDS)
    results: dict[int, tuple[int, str]] = {}
    errors: list[BaseException] = []

    def send(index: int, browser: Browser, path: str, data: dict):
        try:
            barrier.wait()
            response = browser.client.post(path, data=data)
            results[index] = (response.status_code, response.headers.get("Location", ""))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i, *post), daemon=True) for i, post in enumerate(posts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(RACE_DEADLINE_SECONDS)
    assert not any(thread.is_alive() for thread in threads), "a request did not finish in time"
    assert not errors, errors
    return [results[i] for i in range(len(posts))]
