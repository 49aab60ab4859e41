"""The repository's files as a clone has them: `git ls-files` where git can answer, else the tree walked.

A Heroku CI dyno's checkout has no `.git` and the dyno has no `git`, so there
the tree is walked, leaving out what `.gitignore` files ignore (git's rules:
see `ignore_rule`) and the directories the Heroku build adds beside the code.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# What the test environment's buildpacks write into the build directory (/app):
# heroku/python its Python and pipenv (.heroku/) and profile scripts (.profile.d/);
# heroku-community/chrome-for-testing Chrome (.chrome-for-testing/) and the
# system libraries it needs (.apt/), with profile scripts in .profile.d/ too.
BUILD_DIRECTORIES = frozenset({".heroku", ".profile.d", ".chrome-for-testing", ".apt"})


def repository_files(root: Path) -> list[str]:
    """Tracked files plus new ones not ignored, as sorted POSIX paths relative to `root`."""
    if (root / ".git").exists() and shutil.which("git"):
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout.decode()
        return sorted({name for name in listed.split("\0") if name})
    return tree_files(root)


@dataclass(frozen=True)
class IgnoreRule:
    base: str  # the directory of the .gitignore, "" for the root
    regex: re.Pattern
    directories_only: bool
    negated: bool

    def matches(self, path: str, is_directory: bool) -> bool:
        if self.directories_only and not is_directory:
            return False
        if self.base:
            if not path.startswith(self.base + "/"):
                return False
            path = path[len(self.base) + 1 :]
        return bool(self.regex.fullmatch(path))


def tree_files(root: Path) -> list[str]:
    """Files under `root` that git would list: no `.git`, no build directories, nothing ignored.

    As in git, the last rule that matches decides, and nothing below an
    ignored directory comes back. A symbolic link is an entry of its own, as git
    stores it, never followed.
    """
    rules: list[IgnoreRule] = []
    found: list[str] = []
    for directory, subdirectories, files in os.walk(root):
        here = Path(directory).relative_to(root).as_posix()
        here = "" if here == "." else here
        if ".gitignore" in files:
            rules += ignore_rules((Path(directory) / ".gitignore").read_text(errors="replace"), here)
        kept = []
        for name in sorted(subdirectories):
            path = f"{here}/{name}" if here else name
            if name == ".git" or (not here and name in BUILD_DIRECTORIES):
                continue
            if (Path(directory) / name).is_symlink():
                files.append(name)  # git keeps a link to a directory as a link
            elif not _ignored(rules, path, is_directory=True):
                kept.append(name)
        subdirectories[:] = kept
        for name in files:
            path = f"{here}/{name}" if here else name
            if name != ".git" and not _ignored(rules, path, is_directory=False):
                found.append(path)
    return sorted(found)


def _ignored(rules: list[IgnoreRule], path: str, *, is_directory: bool) -> bool:
    ignored = False
    for rule in rules:
        if rule.matches(path, is_directory):
            ignored = not rule.negated
    return ignored


def ignore_rules(text: str, base: str = "") -> list[IgnoreRule]:
    return [rule for line in text.splitlines() if (rule := ignore_rule(line, base)) is not None]


def ignore_rule(line: str, base: str = "") -> IgnoreRule | None:
    """One line of a .gitignore (gitignore(5)); None for a blank line or a comment.

    `!` re-includes; a trailing `/` matches directories only; a slash at the
    start or in the middle anchors the pattern to the .gitignore's directory,
    else it matches a name at any depth; `*`, `?` and `[...]` never match `/`;
    `**/`, `/**/` and `/**` span directories; `\\` escapes the next character.
    """
    if not line.endswith("\\ "):
        line = line.rstrip(" ")
    if not line or line.startswith("#"):
        return None
    negated = line.startswith("!")
    if negated:
        line = line[1:]
    directories_only = line.endswith("/")
    if directories_only:
        line = line[:-1]
    anchored = "/" in line
    line = line.removeprefix("/")
    if not line:
        return None
    regex = _translate(line)
    if not anchored:
        regex = f"(?:.*/)?{regex}"
    return IgnoreRule(base, re.compile(regex, re.DOTALL), directories_only, negated)


def _translate(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern.startswith("**/", i) and (i == 0 or pattern[i - 1] == "/"):
            out.append("(?:.*/)?")  # leading **/ or /**/: zero or more directories
            i += 3
        elif pattern.startswith("**", i) and i + 2 == n and (i == 0 or pattern[i - 1] == "/"):
            out.append(".*")  # trailing /**: everything inside
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := _class_end(pattern, i)) is not None:
            body = pattern[i + 1 : end]
            negate = body[:1] in ("!", "^")
            body = body[1:] if negate else body
            out.append("[" + ("^/" if negate else "") + body.replace("\\", "\\\\").replace("[", "\\[") + "]")
            i = end + 1
        elif pattern[i] == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def _class_end(pattern: str, start: int) -> int | None:
    """The index of the `]` closing the class opened at `start` (a `]` first in the class is literal)."""
    i = start + 1
    if i < len(pattern) and pattern[i] in "!^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    end = pattern.find("]", i)
    return end if end != -1 else None
