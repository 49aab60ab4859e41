"""Blasto's benchmark: the mixed shopper workload on the Procfile's processes, before and after, side by side.

Run from the repository root: `python3 dev.py bench [--before TREE]` (see
docs/BENCHMARKS.md). For this tree ("after") and, with --before, a second
source tree (a git worktree of an older commit), in turn:

1. Data: a Postgres database migrated and seeded by that tree's own code,
   plus shoppers, API clients and history (bench/dataset.py).
2. Workload: each tree's Procfile web, worker and clock, each as its own
   process group (DYNO=web.1 and so on, production settings,
   WEB_CONCURRENCY=2, a Redis database per tree, receipts mailed to a local
   SMTP sink), both trees' stacks up at once; then one step search over
   Locust users (bench/load.py, bench/shoppers.py) in which the trees take
   turns step by step, so that drift of a shared machine hits both alike.
   Memory (PSS of each process group) is read when the search ends. Twice by
   default (--rounds), each round on fresh stacks and data.
3. The floor: `GET /api/v1/purchases` from the tree's web line, then the same
   line serving bench/apps/floor_purchases.py, alternating.
4. Start time: the web line's spawn to its first 200 on /healthz.

It prints a Markdown summary ready for docs/BENCHMARKS.md and exits 1 when a
target is missed. Logs go to bench/results/ (git-ignored). Every process it
starts is stopped, and its databases dropped, on exit, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: bench/ is on the path, the repository root is not
    sys.path.insert(0, str(ROOT))

from bench import dataset  # noqa: E402
from tests.support.processes import free_port, web_procfile  # noqa: E402
from tests.support.procfile_processes import ProcessSet  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PYTHON = ROOT / ".venv" / "bin" / "python"
# Flushed. Each tree has its own (both stacks run at once); another pair for a second run on the machine.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
BEFORE_REDIS_URL = os.environ.get("BENCH_BEFORE_REDIS_URL", "redis://127.0.0.1:6379/10")
FLOOR_APP = "bench.apps.floor_purchases:app"
PROCESSES = ("web", "worker", "clock")  # the Procfile lines a stack runs

FIRST_USERS, FIRST_GROWTH, LATER_GROWTH, MOST_USERS = 40, 1.5, 1.1, 2000
RESOLUTION = 0.05  # a tree's search ends when its first failing step has at most this much more users than its best
STEP_WARM_SECONDS, STEP_SECONDS = 3, 8  # warm: resumed users come back over one think time (1 to 3 s)
FLOOR_USERS, FLOOR_WARM_SECONDS, FLOOR_SECONDS, FLOOR_ROUNDS = 16, 2, 5, 3
START_RUNS = 3
READY_DEADLINE = 90.0  # /readyz: web, broker, a worker round trip and the clock's first sweeps
START_DEADLINE = 30.0

P99_LIMIT_MS = 300
AFTER_MIN_RATIO = 0.9
FLOOR_MIN_RATIO = 0.6
PSS_LIMIT_MB = 256
START_LIMIT_SECONDS = 2.0

SECRET_KEY = secrets.token_hex(32)  # one per run, shared by every process as on a Heroku app


class BenchError(RuntimeError):
    """A process did not start or answer; the message says which and where its log is."""


@dataclass
class Tree:
    label: str  # "after" (this tree) or "before"
    root: Path
    data: dataset.Dataset | None = None
    searches: list[list[dict]] = field(default_factory=list)  # one list of steps per round
    pss_mb: dict[str, float] = field(default_factory=dict)
    floor: list[tuple[float, float]] = field(default_factory=list)  # (Blasto, floor) req/s per window pair
    starts: list[float] = field(default_factory=list)

    @property
    def database(self) -> str:
        return f"bench_{self.label}"

    @property
    def redis_url(self) -> str:
        return REDIS_URL if self.label == "after" else BEFORE_REDIS_URL

    @property
    def data_file(self) -> Path:
        return RESULTS / f"{self.label}.json"

    @property
    def commit(self) -> str:
        def git(*args: str) -> str:
            return subprocess.run(
                ["git", "-C", str(self.root), *args], capture_output=True, text=True, check=False
            ).stdout.strip()

        changed = git("status", "--porcelain", "--", "blasto")
        return git("rev-parse", "--short", "HEAD") + ("+changes" if changed else "")

    def best(self, search: list[dict]) -> dict | None:
        """The step that sets the sustained rate: the most users that passed, every count tried below it passing too."""
        passed, _ = bracket({step["users"]: step for step in search})
        return next((step for step in search if step["users"] == passed), None)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def base_env() -> dict[str, str]:
    """What every process gets: production Blasto as on a dyno, nothing from the caller's shell it would read."""
    env = {key: os.environ[key] for key in ("HOME", "LANG", "LC_ALL", "TMPDIR", "USER") if key in os.environ}
    return {
        **env,
        "PATH": f"{PYTHON.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "true",
        "BLASTO_ENV": "production",
        "SECRET_KEY": SECRET_KEY,
        "WEB_CONCURRENCY": "2",
        "WORKER_CONCURRENCY": "2",
    }


def stack_env(tree: Tree, smtp_url: str) -> dict[str, str]:
    return {
        **base_env(),
        "PYTHONPATH": str(tree.root),
        "DATABASE_URL": dataset.database_url(tree.database),
        "REDIS_URL": tree.redis_url,
        "SMTP_URL": smtp_url,
        "MAIL_FROM": "Blasto <shop@blasto.example>",
    }


@contextmanager
def child(args: list[str], log: Path, env: dict[str, str] | None = None, stdin: int = subprocess.DEVNULL):
    """A helper process in its own session, killed with everything it started when the block ends."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=out,
            start_new_session=True,
            text=True,
        )
    try:
        yield proc
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


@contextmanager
def smtp_sink():
    """aiosmtpd's Sink: accepts every receipt the worker sends and keeps none."""
    port = free_port()
    args = [str(PYTHON), "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"]
    with child(args, RESULTS / "smtp-sink.log"):
        yield f"smtp://127.0.0.1:{port}"


def wait_for_answer(url: str, process, deadline: float, interval: float = 0.1, headers: dict | None = None) -> None:
    """Poll `url` until it answers 200; fail at the deadline or as soon as the process is gone."""
    ends = time.monotonic() + deadline
    while True:
        try:
            response = requests.get(url, timeout=5, headers={"X-Forwarded-Proto": "https", **(headers or {})})
            if response.status_code == 200:
                return
        except requests.RequestException:
            pass
        if not process.running:
            raise BenchError(f"{process.name} exited before {url} answered; see {process.log_path}")
        if time.monotonic() > ends:
            raise BenchError(f"{url} did not answer 200 within {deadline:g} s; see {process.log_path}")
        time.sleep(interval)


def run_compare(tree: Tree, base: str, *args: str) -> dict:
    """`python -m bench.load compare` against `base`: its one JSON line, the windows shown as progress."""
    log = RESULTS / f"{tree.label}-locust.log"
    with child([str(PYTHON), "-m", "bench.load", "compare", "--host", base, *args], log, load_env(tree)) as proc:
        lines = [json.loads(line) for line in proc.stdout]
    if not lines:
        raise BenchError(f"bench/load.py failed ({proc.returncode}); see {log}")
    series = lines[0]["rps"].items()
    progress(
        "  " + ", ".join(f"{label} " + " ".join(f"{rps:.0f}" for rps in rps_) + " req/s" for label, rps_ in series)
    )
    return lines[0]


def load_env(tree: Tree) -> dict[str, str]:
    return {**base_env(), "BENCH_DATA": str(tree.data_file)}


class Users:
    """One tree's shoppers: `python -m bench.load steps`, which runs a step when asked and waits between steps."""

    def __init__(self, tree: Tree, proc: subprocess.Popen):
        self.tree, self.proc = tree, proc

    def step(self, users: int) -> dict:
        """`users` users, warmed up and counted; a failing step is run once more, and only a second failure counts
        (one spike from elsewhere on a shared machine should not decide it)."""
        first = self._run(users)
        self._show(first, "pass" if first["passed"] else "fail, again")
        if first["passed"]:
            return first
        second = self._run(users)
        self._show(second, "pass" if second["passed"] else "FAIL")
        return second

    def _run(self, users: int) -> dict:
        self.proc.stdin.write(json.dumps({"users": users}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise BenchError(f"bench/load.py stopped; see {RESULTS / f'{self.tree.label}-locust.log'}")
        return json.loads(line)

    def _show(self, result: dict, verdict: str) -> None:
        progress(
            f"  {self.tree.label:<6} {result['users']:>4} users {result['rps']:7.1f} req/s  "
            f"p50 {result['p50']:>4} ms  p99 {result['p99']:>5} ms  errors {result['failures']}  "
            f"load generator CPU {result['generator_cpu']:.0f}%  {verdict} " + "; ".join(result["errors"])
        )


def bracket(steps: dict[int, dict]) -> tuple[int, int | None]:
    """A tree's search so far: the most users that passed below the fewest that failed (0: none), and those (None: none).

    A pass above a failure does not count: near saturation an 8 s step's p99 is
    noisy, and one lucky pass is not a rate the stack sustains.
    """
    failed = min((users for users, step in steps.items() if not step["passed"]), default=None)
    below = [users for users, step in steps.items() if step["passed"] and (failed is None or users < failed)]
    return max(below, default=0), failed


def next_users(searches: dict[str, dict[int, dict]], growth: float) -> int | None:
    """The next step's users, None when every tree's search has ended.

    Users grow by `growth` while a tree has not failed yet (shrink while one has
    not passed yet); then the widest gap between a tree's best and its first
    failure is halved, until every gap is a twentieth of that tree's best (the
    ratio of two trees is judged against 0.9: a tenth would be too coarse).
    """
    measured = {users for steps in searches.values() for users in steps}
    brackets = [bracket(steps) for steps in searches.values()]
    if any(failed is None for _, failed in brackets):
        users = max(max(measured) + 1, round(max(measured) * growth))
        return users if users <= MOST_USERS else None
    if any(passed == 0 for passed, _ in brackets):
        users = min(min(measured) - 1, round(min(measured) / growth))
        return users if users >= 1 else None
    wide = [
        (failed - passed, passed, failed)
        for passed, failed in brackets
        if failed - passed > max(2, round(passed * RESOLUTION))
    ]
    if not wide:
        return None
    _, passed, failed = max(wide)
    return (passed + failed) // 2


def search(trees: list[Tree], users_of: dict[str, Users], start: int, growth: float) -> dict[str, dict[int, dict]]:
    """One step search for every tree at once: each step runs on each tree in turn (the first tree alternating),
    except on a tree that already failed with fewer users."""
    searches: dict[str, dict[int, dict]] = {tree.label: {} for tree in trees}
    users: int | None = start
    turn = 0
    while users is not None:
        for tree in trees if turn % 2 == 0 else trees[::-1]:
            _, failed = bracket(searches[tree.label])
            if failed is None or users < failed:
                searches[tree.label][users] = users_of[tree.label].step(users)
        turn += 1
        users = next_users(searches, growth)
    return searches


def run_round(trees: list[Tree], smtp_url: str, start: int, growth: float) -> None:
    """Every tree's web, worker and clock, up at once on fresh copies of their data; one search over them; PSS."""
    progress(f"workload, round {len(trees[0].searches) + 1}: web + worker + clock of every tree, taking turns")
    with ExitStack() as running:
        stacks, users_of = {}, {}
        for tree in trees:
            dataset.copy(f"{tree.database}_seed", tree.database)
            redis.Redis.from_url(tree.redis_url).flushdb()
            env, port = stack_env(tree, smtp_url), free_port()
            stack = running.enter_context(
                ProcessSet(RESULTS / tree.label, procfile_path=tree.root / "Procfile", cwd=tree.root)
            )
            for name in PROCESSES:
                stack.start(name, {**env, "DYNO": f"{name}.1", "PORT": str(port)})
            stacks[tree.label] = (stack, f"http://127.0.0.1:{port}")
        for tree in trees:
            stack, base = stacks[tree.label]
            wait_for_answer(f"{base}/readyz", stack["web"], READY_DEADLINE, interval=0.5)
            command = [str(PYTHON), "-m", "bench.load", "steps", "--host", base]
            command += ["--warm", str(STEP_WARM_SECONDS), "--seconds", str(STEP_SECONDS)]
            log = RESULTS / f"{tree.label}-locust.log"
            proc = running.enter_context(child(command, log, load_env(tree), stdin=subprocess.PIPE))
            users_of[tree.label] = Users(tree, proc)
        searches = search(trees, users_of, start, growth)
        for tree in trees:
            tree.searches.append([searches[tree.label][users] for users in sorted(searches[tree.label])])
            stack, _ = stacks[tree.label]
            for name in PROCESSES:
                tree.pss_mb[name] = max(tree.pss_mb.get(name, 0.0), group_pss_mb(stack[name].pid))


def group_pss_mb(pgid: int) -> float:
    """PSS summed over a process group, in MiB: each shared page (preloaded code) split between its sharers."""
    total_kb = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rpartition(")")[2].split()[2]) == pgid:
                rollup = (stat.parent / "smaps_rollup").read_text()
                total_kb += next(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
        except (OSError, ValueError, StopIteration):
            continue  # exited while we looked
    return total_kb / 1024


def floor_procfile() -> Path:
    """A Procfile whose web line is this tree's with the floor app in Blasto's place: same gunicorn, same settings."""
    try:
        return web_procfile(FLOOR_APP, RESULTS / "floor.Procfile")
    except ValueError as exc:
        raise BenchError(str(exc)) from None


def measure_floor(tree: Tree, smtp_url: str) -> None:
    """GET /api/v1/purchases from Blasto (no page cache) and from the floor app, both up, in alternating windows."""
    env = {**stack_env(tree, smtp_url), "DYNO": "web.1", "PURCHASE_CACHE_SECONDS": "0"}  # the before tree's cache off
    auth = {"Authorization": f"Bearer {tree.data.floor_token}"}
    bases = {}
    with ExitStack() as servers:
        for label, procfile_path, cwd in (
            ("blasto", tree.root / "Procfile", tree.root),
            ("floor", floor_procfile(), ROOT),
        ):
            port = free_port()
            processes = servers.enter_context(ProcessSet(RESULTS / f"{tree.label}-floor", procfile_path, cwd))
            web = processes.start("web", {**env, "PORT": str(port), "PYTHONPATH": str(cwd)}, label=label)
            bases[label] = f"http://127.0.0.1:{port}"
            wait_for_answer(f"{bases[label]}/api/v1/purchases", web, START_DEADLINE, headers=auth)
        result = run_compare(
            tree,
            bases["blasto"],
            "--floor",
            bases["floor"],
            "--users",
            str(FLOOR_USERS),
            "--rounds",
            str(FLOOR_ROUNDS),
            "--warm",
            str(FLOOR_WARM_SECONDS),
            "--seconds",
            str(FLOOR_SECONDS),
        )
    if result["failures"]:
        raise BenchError(f"floor, {tree.label}: {result['errors']}")
    tree.floor = list(zip(result["rps"]["blasto"], result["rps"]["floor"]))


def measure_start(tree: Tree, smtp_url: str) -> None:
    """The tree's web line: spawn to the first 200 on /healthz, polled every 10 ms."""
    env = {**stack_env(tree, smtp_url), "DYNO": "web.1", "PORT": str(free_port())}
    with ProcessSet(RESULTS / f"{tree.label}-start", procfile_path=tree.root / "Procfile", cwd=tree.root) as servers:
        started = time.monotonic()
        web = servers.start("web", env)
        wait_for_answer(f"http://127.0.0.1:{env['PORT']}/healthz", web, START_DEADLINE, interval=0.01)
        tree.starts.append(time.monotonic() - started)


def drop_everything(trees: list[Tree]) -> None:
    for tree in trees:
        for name in (tree.database, f"{tree.database}_seed"):
            try:
                dataset.drop(name)
            except dataset.DatasetError as exc:
                progress(f"bench: could not drop {name}: {exc}")
        try:
            redis.Redis.from_url(tree.redis_url).flushdb()
        except redis.RedisError as exc:
            progress(f"bench: could not flush {tree.redis_url}: {exc}")


# --- the summary -------------------------------------------------------------


def median(values) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def rate(tree: Tree) -> tuple[float, list[float]] | None:
    """The highest sustained req/s: the median over the rounds, and each round's."""
    bests = [tree.best(search) for search in tree.searches]
    if not bests or not all(bests):
        return None
    return median(best["rps"] for best in bests), [best["rps"] for best in bests]


def common_users(trees: list[Tree]) -> int:
    """The most users every tree's first round passed (else the fewest they ran): pages compared at one load."""
    passed = set.intersection(*({step["users"] for step in tree.searches[0] if step["passed"]} for tree in trees))
    ran = set.intersection(*({step["users"] for step in tree.searches[0]} for tree in trees))
    return max(passed) if passed else min(ran)


def at(tree: Tree, users: int, page: str) -> dict | None:
    """A page's figures in the first round's step with `users`; None when that step made no such request."""
    step = next(step for step in tree.searches[0] if step["users"] == users)
    return step["pages"].get(page)


def at_best(tree: Tree, page: str) -> str:
    """A page's p99 in the first round's best step."""
    best = tree.best(tree.searches[0])
    return f"{best['pages'][page]['p99']:.0f} ms" if best and page in best["pages"] else "-"


def search_start(trees: list[Tree]) -> tuple[int, float]:
    """Users and growth of a search: from FIRST_USERS by half; later rounds from the first's lowest best by a tenth."""
    bests = [tree.best(tree.searches[0]) if tree.searches else None for tree in trees]
    if all(bests):
        return min(best["users"] for best in bests), LATER_GROWTH
    return FIRST_USERS, FIRST_GROWTH


def report(trees: list[Tree], command: str, started: str, load: str) -> bool:
    """The Markdown summary on stdout, then the checks; True when every target is met."""
    after, before = trees[0], (trees[1] if len(trees) > 1 else None)
    shown = [before, after] if before else [after]
    rates = {tree.label: rate(tree) for tree in trees}
    ratio = rates["after"][0] / rates["before"][0] if before and rates["after"] and rates["before"] else None
    floors = {
        t.label: (median(b / f for b, f in t.floor), median(b for b, _ in t.floor), median(f for _, f in t.floor))
        for t in shown
    }

    def row(title: str, cells: list[str], last: str = "") -> None:
        print(f"| {title} | " + " | ".join(cells) + (f" | {last} |" if before else " |"))

    print(f"### {started}\n")
    print(
        f"Machine: {os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}, "
        f"load average {load} at the start.  "
    )
    print(f"Command: `{command}`  ")
    print("Trees: " + ", ".join(f"{t.label} = {t.root} at {t.commit}" for t in shown) + ".\n")
    print("| | " + " | ".join(f"{t.label} ({t.commit})" for t in shown) + (" | after/before |" if before else " |"))
    print("|---|" + "---:|" * (len(shown) + (1 if before else 0)))
    row(
        f"highest sustained rate, p99 < {P99_LIMIT_MS} ms and no errors (each round)",
        [
            f"{rates[t.label][0]:.1f} req/s (" + ", ".join(f"{rps:.1f}" for rps in rates[t.label][1]) + ")"
            if rates[t.label]
            else "no step passed"
            for t in shown
        ],
        f"{ratio:.2f}x" if ratio else "-",
    )
    row("checkout p99 at that rate (POST /checkout)", [at_best(t, "POST /checkout") for t in shown])
    row("API purchase p99 at that rate (POST /api/v1/purchases)", [at_best(t, "POST /api/v1/purchases") for t in shown])
    row("log-in p99 at that rate (POST /login, scrypt)", [at_best(t, "POST /login") for t in shown])
    row(
        "GET /api/v1/purchases, Blasto vs floor",
        ["{:.2f}x ({:.0f} vs {:.0f} req/s)".format(*floors[t.label]) for t in shown],
    )
    row(
        "PSS web / worker / clock, MB",
        [" / ".join(f"{t.pss_mb.get(n, 0):.0f}" for n in PROCESSES) for t in shown],
    )
    row(f"start, spawn to first /healthz (median of {START_RUNS})", [f"{median(t.starts):.2f} s" for t in shown])

    users = common_users(trees)
    pages = sorted(
        {
            page
            for tree in trees
            for search in tree.searches
            for step in search
            if step["users"] == users
            for page in step["pages"]
        },
        key=lambda page: (page.split()[1], page),
    )
    total = sum(at(after, users, page)["requests"] for page in pages if at(after, users, page))
    print(f"\nPer page at {users} users (the most users every tree's first round passed), p50 / p99 in ms:\n")
    print("| page | share of requests | " + " | ".join(t.label for t in shown) + " |")
    print("|---|---:|" + "---:|" * len(shown))
    for page in pages:
        figures = [at(t, users, page) for t in shown]
        share = f"{at(after, users, page)['requests'] / total:.1%}" if at(after, users, page) else "-"
        cells = [f"{f['p50']:.0f} / {f['p99']:.0f}" if f else "-" for f in figures]
        print(f"| {page} | {share} | " + " | ".join(cells) + " |")

    checks = [(f"a step passed ({t.label})", rates[t.label] is not None) for t in shown]
    if before:
        checks.append((f"after >= {AFTER_MIN_RATIO}x before", ratio is not None and ratio >= AFTER_MIN_RATIO))
    checks += [
        (f"GET /api/v1/purchases >= {FLOOR_MIN_RATIO}x the floor", floors["after"][0] >= FLOOR_MIN_RATIO),
        (f"PSS <= {PSS_LIMIT_MB} MB per process type", all(mb <= PSS_LIMIT_MB for mb in after.pss_mb.values())),
        (f"start <= {START_LIMIT_SECONDS:g} s", median(after.starts) <= START_LIMIT_SECONDS),
    ]
    print()
    for name, passed in checks:
        print(f"- {'PASS' if passed else 'FAIL'}  {name}")
    return all(passed for _, passed in checks)


def cpu_model() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown CPU")


# --- the run -----------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--before",
        type=Path,
        help="a second source tree to measure side by side, e.g. a git worktree "
        "of an older commit (`git worktree add --detach ../before COMMIT`)",
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="step searches, each on fresh stacks and data (default 2)"
    )
    args = parser.parse_args(argv)
    if args.before and not (args.before / "Procfile").is_file():
        parser.error(f"--before {args.before}: no Procfile there")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    trees = [Tree("after", ROOT)] + ([Tree("before", args.before.resolve())] if args.before else [])
    command = " ".join(
        [
            "python3 dev.py bench",
            *(["--before", str(args.before)] if args.before else []),
            *(["--rounds", str(args.rounds)] if args.rounds != 2 else []),
        ]
    )
    started = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    load = Path("/proc/loadavg").read_text().split()[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    for old in RESULTS.glob("**/*.log"):
        old.unlink()
    # Leave through the cleanup below on Ctrl-C (even when started with SIGINT ignored, as `cmd &` is), SIGTERM, SIGHUP.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda signum, frame: sys.exit(128 + signum))
    try:
        with ExitStack() as cleanup:
            cleanup.callback(drop_everything, trees)
            smtp_url = cleanup.enter_context(smtp_sink())
            for tree in trees:
                progress(f"data, {tree.label}: {tree.database}_seed from {tree.root}'s migrations and `flask seed`")
                tree.data = dataset.build(tree.root, f"{tree.database}_seed", base_env())
                tree.data.write(tree.data_file)
            for round_number in range(args.rounds):
                order = trees[::-1] if round_number % 2 == 0 else trees  # before's step first, then after's first
                run_round(order, smtp_url, *search_start(trees))
            for tree in trees:
                progress(f"floor, {tree.label}: GET /api/v1/purchases from Blasto and from {FLOOR_APP}, alternating")
                measure_floor(tree, smtp_url)
            progress(f"start time: {START_RUNS} cold starts of each tree's web line")
            for _ in range(START_RUNS):
                for tree in trees:
                    measure_start(tree, smtp_url)
    except (BenchError, dataset.DatasetError) as exc:
        progress(f"bench: {exc}")
        return 2
    except KeyboardInterrupt:
        progress("bench: interrupted; every process it started is stopped")
        return 130
    return 0 if report(trees, command, started, load) else 1


if __name__ == "__main__":
    sys.exit(main())
