"""A log-in's device in words: what ua-parser recognises, and nothing made up for the rest."""

from __future__ import annotations

import pytest

from blasto.web.devices import DEVICE_MAX, device_name


@pytest.mark.parametrize(
    ("user_agent", "words"),
    [
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Windows"),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36",
            "Chrome Mobile on Android",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/18.1 Safari/605.1.15",
            "Safari on Mac OS X",
        ),
        ("curl/8.5.0", "curl"),
        ("", None),
        ("not a browser at all", None),
    ],
)
def test_a_user_agent_is_named_by_browser_and_system(user_agent, words):
    assert device_name(user_agent) == words


def test_a_huge_or_hostile_header_gives_short_words_or_none():
    assert device_name("Firefox/1.0 " + "x" * 100_000) in (None, "Firefox")
    named = device_name("Mozilla/5.0 (" + "A" * 500 + ") Firefox/133.0")
    assert named is None or len(named) <= DEVICE_MAX
    assert device_name("\\x00\\r\\n<script>") is None
