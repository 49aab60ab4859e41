"""A log-in's device in words ("Firefox on Windows"), from its User-Agent header, for the account page.

ua-parser reads the header with the ua-parser project's shared rules; the words
only help a shopper tell their sessions apart, so whatever it cannot name is
left out rather than guessed.
"""

from __future__ import annotations

from ua_parser import parse

DEVICE_MAX = 100  # the column's length (blasto.models.login_session)


def device_name(user_agent: str) -> str | None:
    """ "Chrome Mobile on Android", "Firefox on Windows", "curl", or None when nothing is recognised."""
    found = parse(user_agent[:1000])  # a header is a few hundred characters; a longer one is not a browser's
    browser = found.user_agent.family if found.user_agent and found.user_agent.family != "Other" else None
    system = found.os.family if found.os and found.os.family != "Other" else None
    if browser and system:
        return f"{browser} on {system}"[:DEVICE_MAX]
    return (browser or system or "")[:DEVICE_MAX] or None
