"""Hostile strings, and the checks every answer to them must pass.

Template payloads are wrapped in ZZ...ZZ so an evaluated one is unmistakable
("ZZ49ZZ"), where a bare "49" could be a price on the page.
"""

from __future__ import annotations

INJECTIONS = [
    "' OR 1=1 --",
    '" OR ""="',
    "1; DROP TABLE users; --",
    "ZZ{{7*7}}ZZ",
    "ZZ${7*7}ZZ",
    "ZZ{{7*'7'}}ZZ",
    "ZZ#{7*7}ZZ",
    "ZZ<%= 7*7 %>ZZ",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "a\x00b",
    "tab\there\x1b[31mescape",
    "x" * 100_000,
    "📚🔥 books on fire",
    "\u202eevil\u202c \u200fRTL\u200e",
    "\ud800 lone surrogate",
    "-1",
    "99999999999999999999999999",
]
EVALUATED = ("ZZ49ZZ", "ZZ7777777ZZ")
RAW_MARKUP = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>")
# Percent-encoded bytes that are not UTF-8: a lone continuation byte, an
# overlong "/", a UTF-16 surrogate, and bytes that never occur in UTF-8.
BAD_UTF8 = ["%FF%FE", "%C0%AF", "%ED%A0%80", "%80", "abc%F5%FF"]


def assert_handled(response, what: str, api: bool, allowed: tuple[int, ...] = ()) -> str:
    """No 5xx (unless `allowed`), no traceback, no template evaluated, no markup unescaped; JSON errors under the API."""
    body = response.get_data().decode("utf-8", errors="replace")  # an image's bytes too (/favicon.ico)
    assert response.status_code < 500 or response.status_code in allowed, f"{what}: {response.status_code} {body[:400]}"
    assert "Traceback" not in body, what
    for marker in EVALUATED:
        assert marker not in body, f"{what}: a template payload was evaluated"
    if response.mimetype == "text/html":
        for markup in RAW_MARKUP:
            assert markup not in body, f"{what}: markup rendered unescaped"
    if api and response.status_code >= 400:
        assert response.mimetype == "application/json", f"{what}: {response.mimetype}"
        assert response.get_json()["error"] and response.get_json()["message"]
    return body
