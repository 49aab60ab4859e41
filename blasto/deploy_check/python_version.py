"""runtime.txt and the Pipfile must name the same Python, one Heroku supports.

Heroku takes the version from runtime.txt first; pipenv checks the Pipfile's
[requires] python_version. If they differ, the build runs one Python and the
lock was made for another.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

from blasto.deploy_check.report import Report

RUNTIME = re.compile(r"^python-(3\.\d+)(\.\d+)?$")
SUPPORTED = ("3.11", "3.12", "3.13", "3.14")  # the Python buildpack's, 2026


def check(report: Report, root: Path) -> None:
    pipfile = _pipfile(report, root)
    if pipfile is None:
        return
    requires = pipfile.get("requires", {})
    wanted, full = requires.get("python_version"), requires.get("python_full_version")
    if not wanted and not full:
        report.problem("Pipfile", "has no [requires] python_version", 'add `[requires]` with `python_version = "3.11"`')
        return
    wanted = wanted or ".".join(str(full).split(".")[:2])
    runtime = root / "runtime.txt"
    if not runtime.is_file():
        report.note(f"no runtime.txt: Heroku takes Python {wanted} from the lock")
        return
    text = runtime.read_text().strip()
    match = RUNTIME.match(text)
    if not match:
        report.problem("runtime.txt", f"says {text[:40]!r}, which Heroku does not understand", f"write `python-{wanted}` in it")
        return
    version = match.group(1) + (match.group(2) or "")
    if match.group(1) != wanted or (full and match.group(2) and version != full):
        report.problem("runtime.txt", f"asks for Python {version} but the Pipfile's [requires] says {full or wanted}",
                       f"make them equal: `python-{full or wanted}` in runtime.txt, or change the Pipfile and relock with scripts/lock")
        return
    if match.group(1) not in SUPPORTED:
        report.problem("runtime.txt", f"asks for Python {version}, which Heroku's Python buildpack does not offer", f"use one of {', '.join(SUPPORTED)}")
        return
    report.good(f"runtime.txt and the Pipfile both ask for Python {version}")


def _pipfile(report: Report, root: Path) -> dict | None:
    try:
        return tomllib.loads((root / "Pipfile").read_text())
    except FileNotFoundError:
        report.problem("Pipfile", "is missing", "restore it: Heroku installs from Pipfile.lock, which must match it")
    except tomllib.TOMLDecodeError as exc:
        report.problem("Pipfile", f"is not valid TOML ({exc})", "fix it, then relock with scripts/lock")
    return None
