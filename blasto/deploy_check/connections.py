"""The connection budget: the most a formation's processes can hold in Postgres and Redis, against the plans' limits.

Each count is a cap, from a pool's size or from what one thread can use at
once, never a guess at typical use; the README's "Connection budget" table
says what each process type holds, and tests/deploy/test_connection_budget.py
holds the real processes to it.
"""

from __future__ import annotations

import re
import shlex
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

from blasto.core.config import WORKER_DYNO_TYPE, load_config
from blasto.core.env import ConfigError, env_int
from blasto.deploy_check.formation import Dynos, describe
from blasto.deploy_check.platform import WEB_CONCURRENCY_BY_SIZE, plan_limit, qualified, smallest_plan
from blasto.deploy_check.report import Report

READINESS_REDIS = 2  # blasto.core.redis_client: a BlockingConnectionPool(max_connections=2) per process
PER_BROKER_CONNECTION = 2  # kombu's Redis channel: its PING's connection (kept in its pool) and one to publish on
CONSUMER_REDIS = 2  # the Celery worker's main process: BRPOP, and acks and restores
REDBEAT_REDIS = 1  # celery-redbeat's client (the schedule and its lock), in beat's one thread
BUILDPACK = "heroku/python"  # WEB_CONCURRENCY_SET_BY when the buildpack chose WEB_CONCURRENCY
CPUS_SEEN_ON_A_DYNO = 8  # nproc on eco to standard-2x dynos (the buildpack's tests): Celery's default concurrency there
# service -> (its name, its add-on's attachment, a plan for examples)
SERVICES = {"postgres": ("Postgres", "DATABASE", "essential-0"), "redis": ("Redis", "REDIS", "mini")}


@dataclass(frozen=True)
class Program:
    """What a Procfile line runs, as far as connections go."""

    kind: str  # web, worker, beat, release, other
    processes: int | None = None  # gunicorn --workers, or celery --concurrency
    variable: str | None = None  # the variable that number comes from (WORKER_CONCURRENCY), if any


@dataclass(frozen=True)
class Settings:
    """The caps production reads from the environment, and what the Procfile runs."""

    web_pool: int  # DATABASE_POOL_SIZE
    worker_pool: int  # WORKER_DATABASE_POOL_SIZE, on worker dynos
    broker_pool: int  # CELERY_BROKER_POOL_LIMIT
    limiter_pool: int  # RATELIMIT_REDIS_MAX_CONNECTIONS; 0 when the limits are off or not in Redis
    web_concurrency: int | None  # WEB_CONCURRENCY as the app sets it; None: the buildpack's, by dyno size
    programs: dict[str, Program] = field(default_factory=dict)


@dataclass(frozen=True)
class Part:
    """One term of a sum: a count and what it is ("5 DATABASE_POOL_SIZE")."""

    count: int
    what: str


@dataclass(frozen=True)
class Share:
    """Processes of one kind in a dyno (gunicorn's workers), each holding `postgres` and `redis` at most."""

    label: str
    processes: int
    processes_why: str
    postgres: list[Part]
    redis: list[Part]
    role: str = "main"  # "main": the process the dyno starts; "child": one it forks (gunicorn's workers, Celery's pool)

    def each(self, service: str) -> int:
        return sum(part.count for part in getattr(self, service))


@dataclass(frozen=True)
class Line:
    """One row of the budget: a process type and its dynos (or release, or the console)."""

    name: str
    dynos: int
    size: str
    shares: list[Share]
    note: str = ""

    def total(self, service: str) -> int:
        return self.dynos * sum(share.processes * share.each(service) for share in self.shares)

    def arithmetic(self, service: str) -> str:
        """`1 basic dyno x 2 gunicorn processes (WEB_CONCURRENCY on basic) x 5 DATABASE_POOL_SIZE`; "" for none."""
        terms = [_term(share, service) for share in self.shares if share.processes and share.each(service)]
        if not terms:
            return ""
        body = terms[0] if len(terms) == 1 else "(" + " + ".join(terms) + ")"
        if not self.size:  # release, the console: one process, no dynos to multiply
            return body[1:-1] if len(terms) == 1 and body.startswith("(") and body.endswith(")") else body
        return f"{self.dynos} {self.size} dyno{'s' if self.dynos != 1 else ''} x {body}"


def _term(share: Share, service: str) -> str:
    parts = [f"{part.count} {part.what}" for part in getattr(share, service) if part.count]
    value = parts[0] if len(parts) == 1 else "(" + " + ".join(parts) + ")"
    if share.processes == 1 and not share.processes_why:
        return value
    return f"{share.processes} {share.label} ({share.processes_why}) x {value}"


def settings_from(env: Mapping[str, str], processes: Mapping[str, str]) -> Settings:
    """The caps of an environment that production loads (see environment.production_env)."""
    with tempfile.TemporaryDirectory() as instance:
        web = load_config({**env, "DYNO": "web.1"}, instance_path=instance)
        worker = load_config({**env, "DYNO": f"{WORKER_DYNO_TYPE}.1"}, instance_path=instance)
    celery = web["CELERY"]
    limits_in_redis = web["RATELIMIT_ENABLED"] and web["RATELIMIT_STORAGE_URI"].startswith(("redis://", "rediss://"))
    try:
        concurrency = env_int(env, "WEB_CONCURRENCY", 0, minimum=1, maximum=64) or None
    except ConfigError:  # gunicorn.conf.py refuses it, and the environment check says so
        concurrency = None
    if env.get("WEB_CONCURRENCY_SET_BY") == BUILDPACK:  # on a one-off dyno: its own size's, not the app's
        concurrency = None
    return Settings(
        web_pool=web["SQLALCHEMY_ENGINE_OPTIONS"]["pool_size"],
        worker_pool=worker["SQLALCHEMY_ENGINE_OPTIONS"]["pool_size"],
        broker_pool=celery["broker_pool_limit"],
        limiter_pool=web["RATELIMIT_REDIS_MAX_CONNECTIONS"] if limits_in_redis else 0,
        web_concurrency=concurrency,
        programs={name: program(command, env) for name, command in processes.items()},
    )


def program(command: str, env: Mapping[str, str]) -> Program:
    """What a Procfile command runs; its process count with `${VAR:-default}` expanded as `sh` would."""
    try:
        words = [word for word in shlex.split(command) if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", word)]
    except ValueError:
        return Program("other")
    name = words[0].rsplit("/", 1)[-1] if words else ""
    if name == "gunicorn":
        return Program("web", *_option(words, ("-w", "--workers"), env))
    if name == "celery" and "worker" in words:
        return Program("worker", *_option(words, ("-c", "--concurrency"), env))
    if name == "celery" and "beat" in words:
        return Program("beat")
    if name == "flask" and words[-2:] == ["db", "upgrade"]:
        return Program("release")
    return Program("other")


def _option(words: list[str], names: tuple[str, ...], env: Mapping[str, str]) -> tuple[int | None, str | None]:
    long_forms = tuple(f"{name}=" for name in names if name.startswith("--"))
    for index, word in enumerate(words):
        if word in names and index + 1 < len(words):
            value = words[index + 1]
        elif word.startswith(long_forms):
            value = word.split("=", 1)[1]
        else:
            continue
        expanded, variable = _expand(value, env)
        return (int(expanded) if expanded.isdigit() and int(expanded) > 0 else None), variable
    return None, None


def _expand(value: str, env: Mapping[str, str]) -> tuple[str, str | None]:
    """`${NAME:-default}`, `${NAME}` or `$NAME` as sh expands it; the name, if one was used."""
    match = re.fullmatch(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)", value)
    if not match:
        return value, None
    name = match.group(1) or match.group(3)
    return (env.get(name) or match.group(2) or ""), name


def lines(formation: Mapping[str, Dynos], settings: Settings) -> list[Line]:
    """The budget's rows: each process type of the formation, then release and one console."""
    rows = []
    for name, dynos in formation.items():
        shares = _shares(name, settings.programs.get(name, Program("other")), dynos.size, settings)
        note = "" if shares is not None else "not counted (see the note below)"
        rows.append(Line(name, dynos.quantity, dynos.size, shares or [], note))
    if any(p.kind == "release" for p in settings.programs.values()):
        release = [Part(1, "connection (flask db upgrade, while the old dynos run)")]
        rows.append(Line("release", 1, "", [Share("process", 1, "", release, [])]))
    console = [Part(1, "connection (one `heroku run`)")]
    rows.append(Line("console", 1, "", [Share("process", 1, "", console, _single_thread(settings))]))
    return rows


def _shares(name: str, kind: Program, size: str, settings: Settings) -> list[Share] | None:
    # As blasto.core.config.database_pool_size: worker dynos have their own pool size.
    pool = (
        Part(settings.worker_pool, "WORKER_DATABASE_POOL_SIZE")
        if name == WORKER_DYNO_TYPE
        else Part(settings.web_pool, "DATABASE_POOL_SIZE")
    )
    if kind.kind == "web":
        count, why = _web_processes(kind, size, settings)
        redis = [
            Part(
                PER_BROKER_CONNECTION * settings.broker_pool,
                f"broker (2 x CELERY_BROKER_POOL_LIMIT={settings.broker_pool})",
            ),
            Part(READINESS_REDIS, "readiness"),
            Part(settings.limiter_pool, "rate limits (RATELIMIT_REDIS_MAX_CONNECTIONS)"),
        ]
        return [Share("master", 1, "", [], []), Share("gunicorn processes", count, why, [pool], redis, role="child")]
    if kind.kind == "worker":
        children = kind.processes or CPUS_SEEN_ON_A_DYNO
        why = kind.variable or ("--concurrency" if kind.processes else "one per CPU: no --concurrency")
        redis = [Part(PER_BROKER_CONNECTION, "broker")]
        return [
            Share("main", 1, "", [], [Part(CONSUMER_REDIS, "consumer")]),
            Share("children", children, why, [pool], redis, role="child"),
        ]
    if kind.kind == "beat":
        return [Share("beat", 1, "", [], [Part(PER_BROKER_CONNECTION, "broker"), Part(REDBEAT_REDIS, "RedBeat")])]
    return None


def _web_processes(kind: Program, size: str, settings: Settings) -> tuple[int, str]:
    if kind.processes:
        return kind.processes, kind.variable or "--workers"
    if settings.web_concurrency:
        return settings.web_concurrency, "WEB_CONCURRENCY"
    return WEB_CONCURRENCY_BY_SIZE.get(size, 2), f"WEB_CONCURRENCY on {size}"


def _single_thread(settings: Settings) -> list[Part]:
    """A console's Redis: one thread holds one connection of each client (`flask ready` uses the most)."""
    return [Part(PER_BROKER_CONNECTION, "broker"), Part(1, "readiness")]


def total(formation: Mapping[str, Dynos], settings: Settings, service: str) -> int:
    return sum(line.total(service) for line in lines(formation, settings))


# What an operator can set, per service: (Settings field, variable, smallest value worth suggesting).
KNOBS = {
    "postgres": [
        ("web_pool", "DATABASE_POOL_SIZE", 2),
        ("worker_pool", "WORKER_DATABASE_POOL_SIZE", 1),
        ("worker_concurrency", "WORKER_CONCURRENCY", 1),
        ("web_concurrency", "WEB_CONCURRENCY", 1),
    ],
    "redis": [
        ("broker_pool", "CELERY_BROKER_POOL_LIMIT", 1),
        ("limiter_pool", "RATELIMIT_REDIS_MAX_CONNECTIONS", 1),
        ("worker_concurrency", "WORKER_CONCURRENCY", 1),
        ("web_concurrency", "WEB_CONCURRENCY", 1),
    ],
}


def fixes(formation: Mapping[str, Dynos], settings: Settings, service: str, limit: int) -> list[str]:
    """Each single setting that brings `service` within `limit`, at the largest value that does."""
    found = []
    for attribute, variable, smallest in KNOBS[service]:
        if attribute == "worker_concurrency":  # the variable the Procfile's --concurrency reads, if it reads one
            configured = next(
                (p.variable for p in settings.programs.values() if p.kind == "worker" and p.variable), None
            )
            if configured is None:
                continue
            variable = configured
        current = _current(formation, settings, attribute) or 0
        for value in range(current - 1, smallest - 1, -1):
            needed = total(formation, _with(settings, attribute, value), service)
            if needed <= limit:
                found.append(f"`heroku config:set {variable}={value}` ({needed} of {limit})")
                break
    return found


def _current(formation: Mapping[str, Dynos], settings: Settings, attribute: str) -> int | None:
    if attribute == "web_concurrency":
        webs = [(settings.programs[name], dynos.size) for name, dynos in formation.items() if name in settings.programs]
        counts = [_web_processes(p, size, settings)[0] for p, size in webs if p.kind == "web" and not p.processes]
        return max(counts, default=None)
    if attribute == "worker_concurrency":
        workers = [p.processes or 0 for p in settings.programs.values() if p.kind == "worker" and p.variable]
        return max(workers, default=None)
    return getattr(settings, attribute) or None  # 0: that client is off


def _with(settings: Settings, attribute: str, value: int) -> Settings:
    if attribute == "worker_concurrency":
        programs = {
            name: replace(p, processes=value) if p.kind == "worker" and p.variable else p
            for name, p in settings.programs.items()
        }
        return replace(settings, programs=programs)
    return replace(settings, **cast(dict[str, Any], {attribute: value}))


def check(
    report: Report, formation: Mapping[str, Dynos], settings: Settings, plans: Mapping[str, str | None], origin: str
) -> None:
    """Print both budgets' arithmetic; a PROBLEM, with what to set, for each that does not fit its plan."""
    _programs(report, formation, settings)
    rows = lines(formation, settings)
    width = max(len(row.name) for row in rows)
    report.section(f"Connections at most, for {describe(formation)} ({origin}):")
    for service, (name, addon, example) in SERVICES.items():
        plan = qualified(service, wanted) if (wanted := plans.get(service)) else None
        limit = plan_limit(service, plan) if plan else None
        needed = sum(row.total(service) for row in rows)
        report.section(f"  {name} ({plan or 'plan unknown'}{f', {limit} connections' if limit else ''}):")
        for row in rows:
            arithmetic = row.arithmetic(service)
            said = row.note or (f"{arithmetic} = {row.total(service)}" if arithmetic else "0")
            report.section(f"    {row.name:<{width}}  {said}")
        report.section(f"    total {needed}" + (f" of {limit}" if limit else ""))
        if plan and limit is None:
            report.problem(
                f"the {name} plan",
                f"{plan!r} is not a plan this check knows, so the budget of {needed} was not compared",
                f"give the add-on's plan as `heroku addons` shows it, e.g. --{service}-plan {example}",
            )
        elif limit is None:
            report.note(
                f"no {name} add-on in app.json and no --{service}-plan: {needed} connections were not compared "
                "with a limit"
            )
        elif needed > limit:
            options = fixes(formation, settings, service, limit)
            bigger = smallest_plan(service, needed)
            if bigger:
                options.append(f"`heroku addons:upgrade {addon} {bigger[0]}` ({bigger[1]} connections)")
            options = options or ["run fewer dynos: no plan holds this many"]
            said = options[0] if len(options) == 1 else "one of " + "; or ".join(options)
            report.problem(name, f"the formation may open {needed} connections but {plan} allows {limit}", said)
        else:
            report.good(f"{name}: at most {needed} of the {limit} connections {plan} allows")


def _programs(report: Report, formation: Mapping[str, Dynos], settings: Settings) -> None:
    """Say what the budget cannot count exactly."""
    for name in formation:
        kind = settings.programs.get(name)
        if kind is not None and kind.kind == "worker" and not kind.processes:
            report.problem(
                "Procfile",
                f"the {name} process starts Celery without --concurrency, so each dyno runs "
                f"one child per CPU it shows ({CPUS_SEEN_ON_A_DYNO} on a basic dyno), each with its own "
                "connections",
                "add `--concurrency=${WORKER_CONCURRENCY:-2}` to its line",
            )
        elif kind is None:
            report.note(f"the {name} process is not in the connection budget: the Procfile has no such process")
        elif kind.kind == "other":
            report.note(
                f"the {name} process is not in the connection budget: its Procfile command is not gunicorn, "
                "celery worker or celery beat"
            )
