"""Heroku's numbers the connection budget rests on: dyno sizes and add-on plans' connection limits.

WEB_CONCURRENCY is what the Python buildpack's `.profile.d/WEB_CONCURRENCY.sh`
(v351) sets when the app does not: min(2 x CPU cores + 1, RAM / 256 MB). The
limits are Heroku Dev Center's tables ("Choosing the right Heroku Postgres
plan", "Heroku Key-Value Store technical characterization").
"""

from __future__ import annotations

# Dyno size -> the buildpack's WEB_CONCURRENCY.
WEB_CONCURRENCY_BY_SIZE = {
    "eco": 2,
    "basic": 2,
    "standard-1x": 2,
    "standard-2x": 4,
    "private-s": 4,
    "shield-s": 4,
    "performance-m": 5,
    "private-m": 5,
    "shield-m": 5,
    "performance-l": 17,
    "private-l": 17,
    "shield-l": 17,
    "performance-l-ram": 9,
    "private-l-ram": 9,
    "shield-l-ram": 9,
    "performance-xl": 17,
    "private-xl": 17,
    "shield-xl": 17,
    "performance-2xl": 33,
    "private-2xl": 33,
    "shield-2xl": 33,
}
DEFAULT_SIZE = "basic"  # what a formation entry without "size" gets here (app.json's own entries all name one)


def _tiers(prefixes: tuple[str, ...], limits: dict[str, int]) -> dict[str, int]:
    return {f"{prefix}-{suffix}": limit for prefix in prefixes for suffix, limit in limits.items()}


# Heroku Postgres plan -> max_connections.
POSTGRES_LIMITS = {
    "essential-0": 20,
    "essential-1": 20,
    "essential-2": 40,
    "mini": 20,
    "basic": 20,
    **_tiers(
        ("standard", "premium", "private", "shield"),
        {"0": 120, "2": 400, "3": 500, "4": 500, "5": 500, "6": 500, "7": 500, "8": 500, "9": 500, "10": 500},
    ),
}
# Heroku Key-Value Store plan -> maxclients.
REDIS_LIMITS = {
    "mini": 20,
    "premium-0": 40,
    "premium-1": 80,
    "premium-2": 200,
    "premium-3": 400,
    "premium-4": 700,
    "premium-5": 1000,
    **_tiers(("premium", "private", "shield"), {"7": 10000, "9": 25000, "10": 40000, "12": 65000, "14": 65000}),
}
ADDONS = {"postgres": ("heroku-postgresql", POSTGRES_LIMITS), "redis": ("heroku-redis", REDIS_LIMITS)}


def qualified(service: str, plan: str) -> str:
    """ "essential-0" -> "heroku-postgresql:essential-0", as app.json and `heroku addons` name it."""
    addon = ADDONS[service][0]
    plan = plan.strip().lower()
    return plan if plan.startswith(f"{addon}:") else f"{addon}:{plan}"


def plan_limit(service: str, plan: str) -> int | None:
    """The connection limit of `plan` ("essential-0" or "heroku-postgresql:essential-0"); None if unknown."""
    addon, limits = ADDONS[service]
    return limits.get(plan.strip().lower().removeprefix(f"{addon}:"))


NOT_FOR_NEW_APPS = ("private-", "shield-", "basic")  # Private Spaces only, or a legacy plan


def smallest_plan(service: str, needed: int) -> tuple[str, int] | None:
    """The first plan, cheapest first, whose limit holds `needed` connections."""
    addon, limits = ADDONS[service]
    for plan, limit in limits.items():
        legacy = service == "postgres" and plan == "mini"
        if limit >= needed and not legacy and not plan.startswith(NOT_FOR_NEW_APPS):
            return f"{addon}:{plan}", limit
    return None
