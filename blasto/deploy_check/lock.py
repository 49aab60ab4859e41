"""Pipfile.lock must match the Pipfile, or `pipenv install --deploy` aborts the push.

The match is pipenv's own verdict (`pipenv verify` compares the lock's
`_meta.hash` with the Pipfile's), not a copy of its hashing, which would have
to spell out the default package index. pipenv folds pip's index settings
into that hash, so it runs with pip configured as on a Heroku build: no pip
configuration file, and PIP_EXTRA_INDEX_URL only if the app's config vars set
it (the one variable the buildpack passes to pipenv). Without pipenv on PATH
the check says it was skipped. The registry rule (README, "Dependencies") is
checked too: no `[[source]]` in the Pipfile, no sources in the lock.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from collections.abc import Mapping
from pathlib import Path

from blasto.deploy_check.report import Report

RELOCK = (
    "run scripts/lock (pipenv lock, then it empties the lock's sources) and commit Pipfile and Pipfile.lock together"
)


def check(report: Report, root: Path, app_env: Mapping[str, str]) -> None:
    try:
        lock = json.loads((root / "Pipfile.lock").read_text())
    except FileNotFoundError:
        report.problem("Pipfile.lock", "is missing; Heroku then refuses a Pipfile", RELOCK)
        return
    except json.JSONDecodeError as exc:
        report.problem("Pipfile.lock", f"is not valid JSON ({exc})", RELOCK)
        return
    if lock.get("_meta", {}).get("sources"):
        report.problem("Pipfile.lock", "names package indexes in _meta.sources; committed files must not", RELOCK)
    try:
        if "source" in tomllib.loads((root / "Pipfile").read_text()):
            report.problem(
                "Pipfile",
                "has a [[source]] block; a mirror belongs in PIPENV_PYPI_MIRROR, not in a committed file",
                f"remove the block, then {RELOCK}",
            )
    except (OSError, tomllib.TOMLDecodeError):
        return  # the Python version check has said why
    _verify(report, root, app_env.get("PIP_EXTRA_INDEX_URL", ""))


def heroku_build_env(extra_index_url: str) -> dict[str, str]:
    """This process's environment with pip's configuration as a Heroku build has it."""
    env = {key: value for key, value in os.environ.items() if key not in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")}
    env["PIP_CONFIG_FILE"] = os.devnull  # no pip.conf, user or global, is read
    if extra_index_url.strip():
        env["PIP_EXTRA_INDEX_URL"] = extra_index_url
    return env


def _verify(report: Report, root: Path, extra_index_url: str) -> None:
    pipenv = shutil.which("pipenv")
    if pipenv is None:
        report.note(
            "pipenv is not on PATH, so the lock's hash was not verified (`python3 dev.py` puts pipenv in .tools/bin)"
        )
        return
    env = {
        **heroku_build_env(extra_index_url),
        "PIPENV_PIPFILE": str(root / "Pipfile"),
        "PIPENV_VERBOSITY": "-1",
        "PIPENV_IGNORE_VIRTUALENVS": "1",
    }
    result = subprocess.run([pipenv, "verify"], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    if result.returncode == 0:
        report.good(
            "Pipfile.lock matches the Pipfile as Heroku's build hashes it (pipenv verify, no pip configuration)"
        )
    elif extra_index_url.strip():
        report.problem(
            "Pipfile.lock",
            "was hashed without the app's PIP_EXTRA_INDEX_URL; Heroku's build passes that config var to pipenv, "
            "which folds it into the Pipfile's hash, so `pipenv install --deploy` would abort the build",
            "relock with the same value: PIP_EXTRA_INDEX_URL=... scripts/lock (or unset the config var)",
        )
    else:
        said = " ".join((result.stdout + result.stderr).split())[:300] or f"exit code {result.returncode}"
        report.problem(
            "Pipfile.lock",
            f"does not match the Pipfile, so `pipenv install --deploy` would abort the build (pipenv verify: {said})",
            RELOCK,
        )
