"""app.json: what the Heroku Button and review apps start from must be enough for production.

The env a new app would get is built as Heroku builds it (values, generated
secrets, the add-ons' URLs) and given to production's loader: whatever it
refuses, app.json fails to provide. The formation may name only processes the
Procfile has.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from pathlib import Path

from blasto.deploy_check.environment import STAND_INS, config_errors
from blasto.deploy_check.report import Report

ADDON_VARIABLES = {"heroku-postgresql": "DATABASE", "heroku-redis": "REDIS"}  # plan prefix: default attachment name


def check(report: Report, root: Path, processes: Mapping[str, str]) -> dict | None:
    path = root / "app.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        report.problem(
            "app.json",
            "is missing, so the Heroku Button and review apps cannot create the app",
            "restore app.json (see README)",
        )
        return None
    except json.JSONDecodeError as exc:
        report.problem("app.json", f"is not valid JSON ({exc})", "fix it; `python -m json.tool app.json` shows where")
        return None
    _env(report, manifest)
    _formation(report, manifest, processes)
    return manifest


def addon_plans(manifest: dict | None) -> dict[str, str | None]:
    """The plans app.json attaches: {"postgres": "heroku-postgresql:essential-0", "redis": ...} (None: none)."""
    plans: dict[str, str | None] = {"postgres": None, "redis": None}
    for addon in (manifest or {}).get("addons") or []:
        plan = addon.get("plan", "") if isinstance(addon, dict) else str(addon)
        for service, prefix in (("postgres", "heroku-postgresql:"), ("redis", "heroku-redis:")):
            if plan.startswith(prefix) and plans[service] is None:
                plans[service] = plan
    return plans


def heroku_env(manifest: dict) -> dict[str, str]:
    """The config vars a new app gets from app.json: values, generated secrets and add-on URLs."""
    env: dict[str, str] = {}
    for name, spec in (manifest.get("env") or {}).items():
        spec = spec if isinstance(spec, dict) else {"value": str(spec)}
        if "value" in spec:
            env[name] = str(spec["value"])
        elif spec.get("generator") == "secret":
            env[name] = secrets.token_hex(32)
        elif spec.get("required") and name in STAND_INS:  # the Button asks for it
            env[name] = STAND_INS[name]()
    for addon in manifest.get("addons") or []:
        plan = addon.get("plan", "") if isinstance(addon, dict) else str(addon)
        for prefix, default in ADDON_VARIABLES.items():
            if plan.startswith(prefix):
                attachment = (addon.get("as") if isinstance(addon, dict) else None) or default
                env[f"{attachment.upper()}_URL"] = STAND_INS[f"{default}_URL"]()
    return env


def _env(report: Report, manifest: dict) -> None:
    env = heroku_env(manifest)
    named = env.get("BLASTO_ENV", "production").strip().lower()
    problems = 0
    if named != "production":
        problems += 1
        report.problem(
            "app.json",
            f"sets BLASTO_ENV to {named!r}; a new app would run without production's protections",
            'set its value to "production"',
        )
    for error in config_errors(env):
        problems += 1
        if error.variable in ("DATABASE_URL", "REDIS_URL"):
            addon = "heroku-postgresql:essential-0" if error.variable == "DATABASE_URL" else "heroku-redis:premium-0"
            fix = f'add the add-on to "addons": {{"plan": "{addon}", "as": "{error.variable.removesuffix("_URL")}"}}'
        else:
            fix = f'add {error.variable} to "env": a "value", or "generator": "secret" for a key, and "required": true'
        report.problem("app.json", f"its env does not give production a usable {error.variable} ({error})", fix)
    if not problems:
        report.good("app.json's env and add-ons give production every variable it requires")


def _formation(report: Report, manifest: dict, processes: Mapping[str, str]) -> None:
    formation = manifest.get("formation") or {}
    unknown = sorted(set(formation) - set(processes))
    if processes and unknown:
        report.problem(
            "app.json",
            f"its formation starts {', '.join(unknown)}, which the Procfile does not define",
            "make the formation's names match the Procfile's",
        )
    elif formation and processes:
        report.good(f"app.json's formation ({', '.join(sorted(formation))}) matches the Procfile")
