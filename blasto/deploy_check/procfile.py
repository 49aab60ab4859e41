"""Every Procfile process: it parses, its program is a locked dependency, and its target imports.

The targets are loaded the way each program loads them, by the program's own
function (gunicorn's `import_app`, celery's `find_app`, flask's `ScriptInfo`),
in the check's child process (`child`), started in the deploy directory with a
stand-in production environment: a target that imports there imports on the
dyno, whatever this shell's own variables say (those are the environment check's).
"""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

from blasto.deploy_check.child import Findings
from blasto.deploy_check.report import Report

LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")  # Heroku's `name: command`
APP_OPTIONS = {"celery": ("-A", "--app"), "flask": ("-A", "--app")}


@dataclass(frozen=True)
class Target:
    process: str  # web, worker, ...
    program: str  # gunicorn, celery or flask
    target: str  # blasto:APP, blasto.worker, blasto


def check(report: Report, root: Path) -> tuple[dict[str, str], list[Target]]:
    """Report the Procfile's problems; return its commands by process name (for app.json's formation, the budget)
    and the targets its programs load, for the check's child (`report_targets` says how they loaded).
    """
    path = root / "Procfile"
    if not path.is_file():
        report.problem(
            "Procfile",
            "is missing",
            "add one: `web: gunicorn --config gunicorn.conf.py blasto:APP` and the others (see README)",
        )
        return {}, []
    processes: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = LINE.match(line.strip())
        if not match:
            report.problem(
                "Procfile",
                f"line {number} is not `name: command`",
                "write each process as `name: command`, one per line",
            )
            continue
        processes[match.group(1)] = match.group(2)
    if "web" not in processes:
        report.problem(
            "Procfile",
            "has no `web` process, so nothing would answer HTTP",
            "add `web: gunicorn --config gunicorn.conf.py blasto:APP`",
        )
    targets = []
    for name, command in processes.items():
        targets += _targets(report, root, name, command)
    return processes, targets


def _targets(report: Report, root: Path, process: str, command: str) -> list[Target]:
    try:
        words = shlex.split(command)
    except ValueError as exc:
        report.problem("Procfile", f"the {process} command cannot be parsed ({exc})", "fix its quoting")
        return []
    found = []
    for segment in _segments(words):
        program = Path(segment[0]).name
        if program in ("gunicorn", "celery", "flask"):
            _needs_package(report, root, process, program)
        if program == "gunicorn":
            found += [
                Target(process, program, word) for word in segment[1:] if ":" in word and not word.startswith("-")
            ][-1:]
            _gunicorn_config(report, root, process, segment)
        elif program in APP_OPTIONS:
            target = _option(segment, APP_OPTIONS[program])
            if target is None:
                report.problem(
                    "Procfile",
                    f"the {process} process runs {program} without --app",
                    f"add `--app blasto{'.worker' if program == 'celery' else ''}`",
                )
            else:
                found.append(Target(process, program, target))
    return found


def _segments(words: list[str]) -> list[list[str]]:
    """Commands joined by && or ;, each without its leading VAR=value assignments."""
    segments: list[list[str]] = []
    current: list[str] = []
    for word in [*words, "&&"]:
        if word in ("&&", ";", "||"):
            while current and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", current[0]):
                current.pop(0)
            if current:
                segments.append(current)
            current = []
        else:
            current.append(word)
    return segments


def _option(words: list[str], names: tuple[str, ...]) -> str | None:
    for index, word in enumerate(words):
        if word in names and index + 1 < len(words):
            return words[index + 1]
        for name in names:
            if name.startswith("--") and word.startswith(name + "="):
                return word.split("=", 1)[1]
    return None


def _gunicorn_config(report: Report, root: Path, process: str, words: list[str]) -> None:
    config = _option(words, ("-c", "--config"))
    if config and not config.startswith("python:") and not (root / config).is_file():
        report.problem(
            "Procfile", f"the {process} process reads {config}, which does not exist", f"add {config} or drop --config"
        )


def _needs_package(report: Report, root: Path, process: str, program: str) -> None:
    try:
        packages = tomllib.loads((root / "Pipfile").read_text()).get("packages", {})
    except (OSError, tomllib.TOMLDecodeError):
        return  # the Pipfile's own check says why
    if program not in {name.lower() for name in packages}:
        report.problem(
            "Procfile",
            f"the {process} process runs {program}, which Pipfile's [packages] does not list, so Heroku will not install it",
            f"add {program} to [packages] and relock with scripts/lock",
        )


def to_load(targets: list[Target]) -> list[tuple[str, str]]:
    """The (program, target) pairs the check's child loads, each once."""
    return sorted({(t.program, t.target) for t in targets})


def report_targets(report: Report, targets: list[Target], findings: Findings) -> None:
    if not targets:
        return
    if findings.targets is None:
        report.problem(
            "Procfile",
            f"its targets could not be checked: {findings.failure}",
            "run the commands of the Procfile locally and fix what they say",
        )
        return
    for target in targets:
        error = findings.targets[f"{target.program} {target.target}"]
        if error:
            report.problem(
                "Procfile",
                f"the {target.process} process's target `{target.target}` does not load in {target.program}: {error}",
                "point it at what exists (blasto:APP for gunicorn, blasto.worker for celery, blasto for flask) or fix the import",
            )
        else:
            report.good(f"Procfile {target.process}: {target.program} loads {target.target}")
