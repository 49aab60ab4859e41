"""The environment, read exactly as a production dyno reads it, with every problem reported.

`blasto.core.config.load_config` stops at the first bad variable; a deploy wants
the whole list. So it is run again and again: each variable it refuses is
reported with its own ConfigError message, then taken out of the way (unset,
so its default applies, or given a harmless stand-in when production has no
default) and the loader runs once more, until it passes. No rule is copied
here, and no value is ever printed: ConfigError messages name the variable,
not its secret.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path

from blasto.core.config import load_config
from blasto.core.env import ConfigError, env_int
from blasto.core.payment_settings import KEYS as PAYMENT_KEYS
from blasto.deploy_check.child import Findings
from blasto.deploy_check.report import Report

# For variables production cannot do without: valid values that let the loader go on to the rest.
STAND_INS = {
    "SECRET_KEY": lambda: secrets.token_hex(32),
    "DATABASE_URL": lambda: "postgres://check:check@localhost:5432/check",
    "REDIS_URL": lambda: "redis://localhost:6379/0",
    "MAIL_FROM": lambda: "Blasto <shop@blasto.example>",
}
FIXES = {
    "DATABASE_URL": "attach Postgres: heroku addons:create heroku-postgresql:essential-0 (it sets DATABASE_URL; never set it by hand)",
    "REDIS_URL": "attach Redis: heroku addons:create heroku-redis:premium-0 (it sets REDIS_URL; never set it by hand)",
    "SECRET_KEY": "heroku config:set SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))')",
    **dict.fromkeys(
        PAYMENT_KEYS,
        "set all three from the Stripe dashboard: heroku config:set STRIPE_SECRET_KEY=sk_live_... "
        "STRIPE_PUBLISHABLE_KEY=pk_live_... STRIPE_WEBHOOK_SECRET=whsec_..., or unset all three for manual payment",
    ),
}
# The Procfile's worker line reads it (`--concurrency=${WORKER_CONCURRENCY:-2}`); config.py does not.
WORKER_CONCURRENCY_MAX = 64


def check(report: Report, env: Mapping[str, str]) -> None:
    env = dict(env)
    named = env.get("BLASTO_ENV", "").strip().lower()
    if named and named != "production":
        report.problem(
            "BLASTO_ENV",
            f"is {named!r}, so the app would run without production's protections (secure cookies, HSTS, a required SECRET_KEY)",
            "heroku config:set BLASTO_ENV=production (app.json sets it), or leave it unset",
        )
    before = len(report.problems)
    for error in config_errors(env):
        report.problem(
            error.variable,
            str(error),
            FIXES.get(error.variable, f"heroku config:set {error.variable}=... as the message says (locally: in .env)"),
        )
    if len(report.problems) == before:
        report.good(
            "the environment loads as production (SECRET_KEY, DATABASE_URL, REDIS_URL, mail, every number in range)"
        )
    _worker_concurrency(report, env)
    _mail_notes(report, env)
    payment_notes(report, env)


def config_errors(env: Mapping[str, str]) -> list[ConfigError]:
    """Every ConfigError production's loader raises for `env`, one per variable."""
    return production_env(env)[0]


def production_env(env: Mapping[str, str]) -> tuple[list[ConfigError], dict[str, str] | None]:
    """The errors, and `env` as production loads it once they are out of the way (None if no way past them)."""
    env = {**env, "BLASTO_ENV": "production"}
    env["DYNO"] = env.get("DYNO") or "web.1"  # on a dyno the add-ons' URLs are required
    errors: list[ConfigError] = []
    seen: set[str] = set()
    with tempfile.TemporaryDirectory() as instance:
        while True:
            try:
                load_config(env, instance_path=instance)
                return errors, env
            except ConfigError as error:
                if error.variable in seen:  # no way past it; what was found is reported
                    return errors, None
                seen.add(error.variable)
                errors.append(error)
                if error.variable in STAND_INS:
                    env[error.variable] = STAND_INS[error.variable]()
                elif error.variable in PAYMENT_KEYS:  # the rest is checked as a shop with manual payment
                    for name in PAYMENT_KEYS:
                        env.pop(name, None)
                else:
                    env.pop(error.variable, None)


def _worker_concurrency(report: Report, env: Mapping[str, str]) -> None:
    try:
        env_int(env, "WORKER_CONCURRENCY", 2, minimum=1, maximum=WORKER_CONCURRENCY_MAX)
    except ConfigError as error:
        report.problem(error.variable, str(error), "heroku config:set WORKER_CONCURRENCY=2 (2 fits a 512 MB dyno)")


def gunicorn_job(env: Mapping[str, str], root: Path) -> tuple[Path, dict[str, str]] | None:
    """gunicorn.conf.py reads PORT, WEB_CONCURRENCY and GUNICORN_THREADS itself: the check's child runs it,
    with this environment, as the web dyno will (None: there is no gunicorn.conf.py to run).
    """
    conf = root / "gunicorn.conf.py"
    return (conf, {**env, "PYTHONPATH": str(root), "BLASTO_ENV": "production"}) if conf.is_file() else None


def report_gunicorn(report: Report, findings: Findings) -> None:
    if findings.gunicorn is None:
        report.problem(
            "gunicorn.conf.py",
            f"could not be run: {findings.failure}",
            "run `python gunicorn.conf.py` and fix what it says",
        )
        return
    code, said = findings.gunicorn
    if code == 0:
        report.good("gunicorn.conf.py accepts PORT, WEB_CONCURRENCY and GUNICORN_THREADS")
        return
    reason = next((line.split("cannot start: ", 1)[1] for line in said.splitlines() if "cannot start: " in line), None)
    if reason:
        report.problem(reason.split()[0], reason, f"heroku config:set {reason.split()[0]}=... with a value in range")
    else:
        last = said.strip().splitlines()[-1:] or ["no output"]
        report.problem(
            "gunicorn.conf.py", f"does not load: {last[0]}", "run `python gunicorn.conf.py` and fix what it says"
        )


def _mail_notes(report: Report, env: Mapping[str, str]) -> None:
    if not env.get("SMTP_URL", "").strip():
        report.note("SMTP_URL is not set: receipts and welcome e-mails stay pending (none is lost) until it is")


def payment_notes(report: Report, env: Mapping[str, str]) -> None:
    """Manual payment with the default instructions names no account: shoppers would not know where to pay."""
    if any(env.get(name, "").strip() for name in PAYMENT_KEYS) or env.get("PAYMENT_INSTRUCTIONS", "").strip():
        return
    report.note(
        "payment is manual (no STRIPE_* keys) and PAYMENT_INSTRUCTIONS is the default, which names no account: "
        "set where shoppers pay, e.g. heroku config:set PAYMENT_INSTRUCTIONS='Please pay {total} to "
        'IBAN ... with "Blasto order {order}" as the reference by {deadline}.\''
    )
