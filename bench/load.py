"""Locust, as a library: steps of shoppers on demand, or Blasto next to the floor; figures as JSON lines.

bench/run.py runs this in a child process, `python -m bench.load` (importing
Locust patches the standard library for gevent, time.sleep included), and
reads one JSON object per line from its stdout:

- `steps`: the users of bench/shoppers.py, one step for each line
  `{"users": N}` read from stdin: N users run (added to or taken from the
  ones already running) WARM seconds, then the figures are reset and SECONDS
  counted; one line of figures out, and the users wait (bench.shoppers.RUNNING)
  until the next line. bench/run.py keeps one such process per tree and
  alternates them, so the trees take turns on the same machine. A step passes
  when nothing failed and the p99 of all requests but POST /login is under
  300 ms (its scrypt hash is slow on purpose; it is reported on its own line).
- `steady`: one step of the shoppers at `--users`, without judging it: a
  line `{"counting": true}` when the counted seconds start, then its figures
  (bench/cpu.py reads the processes' CPU time at both).
- `compare`: N readers of `GET /api/v1/purchases` without pauses, against
  Blasto and the floor app (bench/apps/floor_purchases.py) in alternating
  windows. One line.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
import time
from collections.abc import Iterator

from locust import FastHttpUser, constant, task
from locust.env import Environment
from locust.log import setup_logging
from locust.stats import StatsEntry

from bench.shoppers import RUNNING, ApiClient, Shopper, data

P99_LIMIT_MS = 300
UNJUDGED = {("POST", "/login")}
SPAWN_RATE = 100  # users per second: a step's new users within its warm-up


class PurchasesReader(FastHttpUser):
    """An API client reading its first page of purchases as fast as answers come, from whichever server is `target`."""

    wait_time = constant(0)
    network_timeout = 10.0
    target = ""  # base URL; compare() switches it between windows

    @task
    def read(self):
        headers = {"Authorization": f"Bearer {data()['floor_token']}", "X-Forwarded-Proto": "https"}
        self.client.get(f"{PurchasesReader.target}/api/v1/purchases", name="/api/v1/purchases", headers=headers)


def measure(env: Environment, users: int, warm: float, seconds: float) -> dict:
    """Run `users` users: WARM seconds unrecorded, then SECONDS recorded; the figures per request name."""
    env.runner.start(users, spawn_rate=SPAWN_RATE)
    time.sleep(warm)
    env.stats.reset_all()
    exceptions_before = sum(e["count"] for e in env.runner.exceptions.values())
    time.sleep(seconds)
    total = env.stats.total
    pages = {
        f"{entry.method} {entry.name}": {
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "p50": entry.get_response_time_percentile(0.5),
            "p99": entry.get_response_time_percentile(0.99),
        }
        for entry in env.stats.entries.values()
        if entry.num_requests
    }
    errors = [f"{e.method} {e.name}: {e.error} ({e.occurrences}x)" for e in env.stats.errors.values()]
    crashed = sum(e["count"] for e in env.runner.exceptions.values()) - exceptions_before
    if crashed:  # a bug in the user code, not the app; never a pass
        errors.append(f"{crashed} exceptions in the load generator: {list(env.runner.exceptions.values())[-1]['msg']}")
    judged = StatsEntry(env.stats, "judged", "")
    for entry in env.stats.entries.values():
        if (entry.method, entry.name) not in UNJUDGED:
            judged.extend(entry)
    failures = total.num_failures + crashed
    p99 = judged.get_response_time_percentile(0.99) if judged.num_requests else 0
    return {
        "users": users,
        "rps": total.num_requests / seconds,
        "requests": total.num_requests,
        "failures": failures,
        "p50": judged.get_response_time_percentile(0.5) if judged.num_requests else 0,
        "p99": p99,
        "passed": bool(total.num_requests) and not failures and p99 < P99_LIMIT_MS,
        "generator_cpu": env.runner.current_cpu_usage,
        "pages": pages,
        "errors": errors[:5],
    }


def steps(env: Environment, warm: float, seconds: float) -> None:
    """One step per line `{"users": N}` on stdin; between steps the users wait, sending nothing."""
    RUNNING.clear()
    for asked in commands():
        RUNNING.set()
        step = measure(env, asked["users"], warm, seconds)
        RUNNING.clear()
        emit(step)


def commands() -> Iterator[dict]:
    """The JSON lines on stdin until it closes, waited for with select, which Locust's import made gevent's:
    the users' greenlets (a request finishing) run meanwhile."""
    stdin, pending = sys.stdin.fileno(), b""
    while True:
        select.select([stdin], [], [])
        chunk = os.read(stdin, 4096)
        if not chunk:
            return
        *lines, pending = (pending + chunk).split(b"\n")
        yield from (json.loads(line) for line in lines if line.strip())


def steady(env: Environment, users: int, warm: float, seconds: float) -> None:
    """One step at `users`; a line when counting starts (bench/cpu.py reads the processes' CPU then), then its figures."""
    env.runner.start(users, spawn_rate=SPAWN_RATE)
    time.sleep(warm)
    emit({"counting": True})
    emit(measure(env, users, 0, seconds))


def compare(env: Environment, users: int, servers: dict[str, str], rounds: int, warm: float, seconds: float) -> None:
    """The same readers against each server in turn, `rounds` times, so drift on a shared machine hits them alike."""
    env.runner.start(users, spawn_rate=SPAWN_RATE)
    rps: dict[str, list[float]] = {label: [] for label in servers}
    failures, errors = 0, []
    for _ in range(rounds):
        for label, base in servers.items():
            PurchasesReader.target = base
            time.sleep(warm)
            env.stats.reset_all()
            time.sleep(seconds)
            rps[label].append(env.stats.total.num_requests / seconds)
            failures += env.stats.total.num_failures
            errors += [f"{label}: {e.error} ({e.occurrences}x)" for e in env.stats.errors.values()]
    emit({"users": users, "rps": rps, "failures": failures, "errors": errors[:5]})


def emit(figures: dict) -> None:
    print(json.dumps(figures), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("steps", "steady", "compare"))
    parser.add_argument("--host", required=True, help="the shop; compare: Blasto")
    parser.add_argument("--floor", help="compare: the floor app")
    parser.add_argument("--users", type=int, default=20, help="steady: the users; compare: the readers")
    parser.add_argument("--rounds", type=int, default=3, help="compare: windows per server")
    parser.add_argument("--warm", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    setup_logging("WARNING")
    users = [PurchasesReader] if args.mode == "compare" else [Shopper, ApiClient]
    env = Environment(user_classes=users, host=args.host)
    env.create_local_runner()
    try:
        if args.mode == "steps":
            steps(env, args.warm, args.seconds)
        elif args.mode == "steady":
            steady(env, args.users, args.warm, args.seconds)
        else:
            compare(env, args.users, {"blasto": args.host, "floor": args.floor}, args.rounds, args.warm, args.seconds)
    finally:
        env.runner.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
