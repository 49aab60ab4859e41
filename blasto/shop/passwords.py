"""The password rule, in one place: the sign-up page, POST /api/v1/users and create-admin all ask here.

NIST SP 800-63B's advice, which is also what attackers' guessing lists make
true: a minimum length, a check against passwords known to be common, nothing
that equals the account's own name, and no composition rules ("one digit, one
symbol") or forced expiry, which only breed `Password1!`.

`common_passwords.txt` is SecLists' Passwords/Common-Credentials/
10k-most-common.txt (danielmiessler/SecLists, MIT licence, commit 4f84b3c),
one password per line, unchanged. It is read once per process into a
frozenset and compared case-insensitively (and ignoring surrounding spaces),
so `QwertyUIOP` counts as `qwertyuiop`. Only 51 of its entries are at least
PASSWORD_MIN long (the list is old and many entries were cut at 8
characters), so a password also counts as common when what is left after
stripping the digits and symbols people pad with (`password123!`, `2024dragon`)
is on the list: padding a common word to reach the minimum is the first thing
guessing tools try.
"""

from __future__ import annotations

import functools
from importlib.resources import files

# Long enough to matter; short enough that scrypt over a megabyte "password" is no denial of service.
PASSWORD_MIN, PASSWORD_MAX = 10, 128

LENGTH = f"Use between {PASSWORD_MIN} and {PASSWORD_MAX} characters."
COMMON = "This password is among the most common ones; choose another."
LIKE_EMAIL = "This password is your e-mail address (or the part before the @); choose another."


@functools.cache
def common_passwords() -> frozenset[str]:
    text = files(__package__).joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(_folded(line) for line in text.splitlines() if line.strip())


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why `password` is refused, in words for the person choosing it; None when it is fine.

    `email` is the account's address, when known: the password must be neither
    it nor its local part.
    """
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        return LENGTH
    folded = _folded(password)
    if folded in common_passwords() or _unpadded(folded) in common_passwords():
        return COMMON
    if email and "@" in email and folded in {_folded(email), _folded(email.rpartition("@")[0])}:
        return LIKE_EMAIL
    return None


def _folded(text: str) -> str:
    return text.strip().casefold()


PADDING = "0123456789!@#$%^&*()-_=+.,?~ "


def _unpadded(folded: str) -> str:
    return folded.strip(PADDING)
