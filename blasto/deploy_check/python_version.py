"""The Python version as Heroku's buildpack (v351, lib/python_version.sh) reads it, and every file that names it.

The buildpack takes the first it finds: runtime.txt (deprecated: each build
warns), `.python-version`, then Pipfile.lock's `python_full_version`, then
its `python_version`. pipenv then refuses a Python other than the Pipfile's
[requires]. Two that disagree mean a build on one Python with a lock made for
another, or a build that stops: a problem. The deprecation is a note:
runtime.txt stays, the design requires it.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from blasto.deploy_check.report import Report

VERSION = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?$")  # the buildpack's N.N or N.N.N
# The buildpack's newest release of each Python it offers; 3.10 is deprecated.
LATEST = {"3.10": "3.10.21", "3.11": "3.11.16", "3.12": "3.12.14", "3.13": "3.13.15", "3.14": "3.14.7"}
DEPRECATED = {"3.10": "support ends on 2027-01-06"}
DEFAULT = "3.14"  # what the buildpack builds with when nothing names a version
# Names the buildpack refuses as misspellings of .python-version (it looks for them when there is no runtime.txt).
MISSPELLED = (
    " .python-version",
    ". python-version",
    ".python_version.txt",
    ".python_version",
    ".python-version ",
    ",python-version",
    ".python-version.",
    ".python-version.py",
    ".python-version.rtf",
    ".python-version.txt",
    ".python-version.TXT",
    ".Python-version",
    ".python.version",
    ".pythonversion",
    "'.python-version'",
    "python_version.txt",
    "python_version",
    "python-version.",
    "python-version.txt",
    "python-version",
)
RELOCK = "scripts/lock"
DEPRECATION = (
    'runtime.txt is deprecated on Heroku: every build prints "Warning: The runtime.txt file is '
    'deprecated" and a future buildpack will refuse it; it still decides the Python version, and '
    ".python-version is its replacement"
)


@dataclass(frozen=True)
class Source:
    where: str  # "runtime.txt", "Pipfile.lock python_full_version"
    version: str  # N.N or N.N.N
    fix: Callable[[str, str], str]  # (asked, installed) -> how to make it agree: "write `python-3.11` in runtime.txt"

    @property
    def read_by_buildpack(self) -> bool:
        return not self.where.startswith("Pipfile [")


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def check(report: Report, root: Path) -> None:
    sources = _sources(report, root)
    if sources is None:
        return
    chosen = next((s for s in sources if s.read_by_buildpack), None)
    if chosen is None:
        named = f"`python-{sources[0].version}`" if sources else "`python-3.11`"
        report.problem(
            "Python version",
            f"is named nowhere Heroku reads, so it builds with its default ({DEFAULT})",
            f"write {named} in runtime.txt, and set the Pipfile's [requires] and relock with {RELOCK}",
        )
        return
    if chosen.where == "runtime.txt":
        report.note(DEPRECATION)
    if not _supported(report, chosen):
        return
    installed = chosen.version if chosen.version.count(".") == 2 else LATEST[chosen.version]
    differing = [s for s in sources if s is not chosen and not _agrees(s.version, installed)]
    if differing:
        said = ", ".join(f"{s.where} says {s.version}" for s in differing)
        report.problem(
            chosen.where,
            f"asks for Python {chosen.version} (Heroku installs {installed}, reading it first), but {said}",
            f"make them all name one Python: {_steps(differing, chosen, installed)} "
            f"(or change {chosen.where} to match them)",
        )
        return
    others = [s.where for s in sources if s is not chosen]
    agree = f"; {', '.join(others)} agree" if others else ""
    report.good(f"{chosen.where} asks for Python {chosen.version} (Heroku installs {installed}){agree}")


def _steps(differing: list[Source], chosen: Source, installed: str) -> str:
    """The edits, the Pipfile's first; its relock also rewrites the lock, so the lock's own step then goes."""
    pipfile_differs = any(not s.read_by_buildpack for s in differing)
    steps = [
        s.fix(chosen.version, installed)
        for s in sorted(differing, key=lambda s: s.read_by_buildpack)
        if not (pipfile_differs and s.where.startswith("Pipfile.lock"))
    ]
    return "; ".join(dict.fromkeys(steps))


def _sources(report: Report, root: Path) -> list[Source] | None:
    """Every place that names a Python, in the buildpack's order, the Pipfile last; None if one is unreadable."""
    found: list[Source] = []
    runtime = root / "runtime.txt"
    if runtime.is_file():
        text = "\n".join(_version_lines(runtime))
        match = re.match(r"^python-(.+)$", text)
        if not match or not VERSION.match(match.group(1)):
            report.problem(
                "runtime.txt",
                f"says {text[:40]!r}, which Heroku refuses (the build stops)",
                "write `python-3.11` in it",
            )
            return None
        found.append(Source("runtime.txt", match.group(1), lambda v, _: f"write `python-{v}` in runtime.txt"))
    else:
        misspelled = [name for name in MISSPELLED if (root / name).is_file()]
        if misspelled:
            report.problem(
                misspelled[0],
                "is a misspelling of .python-version, which Heroku refuses (the build stops)",
                "rename it to .python-version",
            )
            return None
    dotfile = root / ".python-version"
    if dotfile.is_file():
        lines = _version_lines(dotfile)
        if len(lines) != 1 or not VERSION.match(lines[0]):
            report.problem(
                ".python-version",
                f"holds {lines[:3]!r}; Heroku wants one version like 3.11 (the build stops)",
                "write one line, `3.11`, in it",
            )
            return None
        found.append(Source(".python-version", lines[0], lambda v, _: f"write `{v}` in .python-version"))
    lock, pipfile = _lock_requires(report, root), _pipfile_requires(report, root)
    if lock is None or pipfile is None:
        return None
    relock = f"relock with {RELOCK} (the lock copies the Pipfile's [requires])"
    for key in ("python_full_version", "python_version"):
        if key in lock:
            found.append(Source(f"Pipfile.lock {key}", lock[key], lambda v, _: relock))
    if "python_full_version" in pipfile:
        found.append(
            Source(
                "Pipfile [requires] python_full_version",
                pipfile["python_full_version"],
                lambda v, installed: (
                    f'`python_full_version = "{installed}"` in the Pipfile\'s [requires] '
                    f"(or no such line), then relock with {RELOCK}"
                ),
            )
        )
    if "python_version" in pipfile:
        found.append(
            Source(
                "Pipfile [requires] python_version",
                pipfile["python_version"],
                lambda v, _: (
                    f'`python_version = "{_minor(v)}"` in the Pipfile\'s [requires], then relock with {RELOCK}'
                ),
            )
        )
    if not pipfile:
        report.problem(
            "Pipfile",
            "has no [requires] python_version, so pipenv cannot refuse a lock made for another Python",
            f'add `[requires]` with `python_version = "3.11"`, then relock with {RELOCK}',
        )
    return found


def _version_lines(path: Path) -> list[str]:
    """The file's lines stripped, without blank lines and # comments (the buildpack's read_trimmed_version_lines)."""
    stripped = (line.strip() for line in path.read_text(errors="replace").splitlines())
    return [line for line in stripped if line and not line.startswith("#")]


def _lock_requires(report: Report, root: Path) -> dict[str, str] | None:
    try:
        requires = json.loads((root / "Pipfile.lock").read_text()).get("_meta", {}).get("requires", {})
    except (FileNotFoundError, json.JSONDecodeError, AttributeError):
        return {}  # the lock check says what is wrong with it
    versions = {key: str(requires[key]) for key in ("python_full_version", "python_version") if key in requires}
    # The buildpack reads python_full_version // python_version, and stops the build on a malformed one.
    first = versions.get("python_full_version") or versions.get("python_version")
    if first is not None and not VERSION.match(first):
        report.problem(
            "Pipfile.lock",
            f"names Python {first!r}, which Heroku refuses (the build stops)",
            f"fix the Pipfile's [requires] and relock with {RELOCK}",
        )
        return None
    return versions


def _pipfile_requires(report: Report, root: Path) -> dict[str, str] | None:
    try:
        requires = tomllib.loads((root / "Pipfile").read_text()).get("requires", {})
    except FileNotFoundError:
        report.problem("Pipfile", "is missing", "restore it: Heroku installs from Pipfile.lock, which must match it")
        return None
    except tomllib.TOMLDecodeError as exc:
        report.problem("Pipfile", f"is not valid TOML ({exc})", f"fix it, then relock with {RELOCK}")
        return None
    return {key: str(requires[key]) for key in ("python_full_version", "python_version") if key in requires}


def _supported(report: Report, chosen: Source) -> bool:
    minor = _minor(chosen.version)
    if minor not in LATEST:
        report.problem(
            chosen.where,
            f"asks for Python {chosen.version}, which Heroku's Python buildpack does not offer (the build stops)",
            f"use one of {', '.join(LATEST)}",
        )
        return False
    if chosen.version.count(".") == 2:
        patch, newest = int(chosen.version.split(".")[2]), int(LATEST[minor].split(".")[2])
        if patch > newest:
            report.problem(
                chosen.where,
                f"asks for Python {chosen.version}, a release the buildpack does not have (newest: {LATEST[minor]})",
                f"name the minor version only, {minor}, and get each new release",
            )
            return False
        if patch < newest:
            report.note(
                f"{chosen.where} pins Python {chosen.version}; {LATEST[minor]} is out and each build "
                f"warns: name {minor} alone to get it"
            )
    if minor in DEPRECATED:
        report.note(f"Python {minor} is deprecated on Heroku: {DEPRECATED[minor]}")
    return True


def _agrees(version: str, installed: str) -> bool:
    """A minor version agrees with any of its releases; a full one only with itself."""
    return installed == version or (version.count(".") == 1 and _minor(installed) == version)
