"""ConfigError and the parsers for environment variables.

A leaf module: every settings module (config, mail settings, gunicorn.conf.py,
the deploy check) imports it, and it imports none of them.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import NoReturn

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


class ConfigError(ValueError):
    """An environment variable is missing or malformed; the message names it."""

    def __init__(self, variable: str, problem: str):
        self.variable = variable
        super().__init__(f"{variable} {problem}")


def parse_flag(text: str) -> bool | None:
    """True or False for a yes/no word (1, true, yes, on / 0, false, no, off); None for anything else."""
    lowered = text.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    return None


def env_bool(name: str, value: str | None, default: bool) -> bool:
    if not (value or "").strip():
        return default
    flag = parse_flag(value or "")
    if flag is None:
        raise ConfigError(name, f"must be true or false, not {(value or '').strip()!r}")
    return flag


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    return _number(env, name, default, minimum, maximum, int, "a whole number")


def env_float(env: Mapping[str, str], name: str, default: float, minimum: float, maximum: float) -> float:
    return _number(env, name, default, minimum, maximum, float, "a number of seconds")


def _number(env: Mapping[str, str], name: str, default, minimum, maximum, cast, kind: str):
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise ConfigError(name, f"must be {kind}, not {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(name, f"must be between {minimum} and {maximum}, not {value}")
    return value


def cannot_start(error: ConfigError) -> NoReturn:
    """Stop this process with one line naming the variable.

    Exit status 3 is gunicorn's "worker failed to boot": its arbiter stops
    instead of respawning workers that can never start.
    """
    print(f"blasto: cannot start: {error}", file=sys.stderr, flush=True)
    raise SystemExit(3)
