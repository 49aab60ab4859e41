"""safe_next on its own: only plain same-site paths pass."""

import pytest

from blasto.web.redirects import safe_next


@pytest.mark.parametrize("target", ["/", "/home", "/books?q=emma&page=2", "/purchases/3", "/a/b#c", "/%2F%2Fevil.com"])
def test_relative_paths_pass(target):
    assert safe_next(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "//evil.com",
        "///evil.com",
        "https://evil.com",
        "http:evil.com",
        "javascript:alert(1)",
        "/\\evil.com",
        "\\/evil.com",
        "/\t/evil.com",
        "/\n/evil.com",
        "/ /evil.com",
        "/\x00",
        "/\x7f",
        "evil.com",
        "home",
        " /home",
        "/" + "a" * 2000,
        "data:text/html,hi",
    ],
)
def test_anything_else_is_refused(target):
    assert safe_next(target) is None
