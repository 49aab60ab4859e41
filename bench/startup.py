"""How long the Procfile's processes take to start, and a team's commands to finish: before and after, side by side.

Every deploy runs the release phase, every `heroku run` starts a process, and
every restart boots the web and the worker: what they cost is paid on each.
For this tree and, with --before, another (a git worktree of an older commit),
each round runs, on each tree in turn (the trees alternating):

- release: `flask --app blasto db upgrade` on a migrated database (nothing to migrate);
- check: `flask --app blasto check`, the deploy check the README gives;
- worker: the Procfile's worker line, spawn to Celery's "ready" in its log;
- web: the Procfile's web line, spawn to its first 200 on /healthz.

Wall seconds, and CPU seconds: for a command, its own and those of every
process it waited for; for a server, its process group's when it is ready.
Production settings as on a dyno (bench/run.py's); a database and a Redis
database per tree. Run from the repository root:

    .venv/bin/python bench/startup.py [--before TREE] [--rounds 5]

Prints a Markdown table of medians.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import dataset  # noqa: E402
from bench.cpu import snapshot  # noqa: E402
from bench.run import (  # noqa: E402
    PYTHON,
    RESULTS,
    START_DEADLINE,
    BenchError,
    Tree,
    progress,
    stack_env,
    wait_for_answer,
)
from tests.support.processes import free_port  # noqa: E402
from tests.support.procfile_processes import ProcessSet  # noqa: E402

COMMANDS = {"release": ["db", "upgrade"], "check": ["check"]}
SERVERS = ("worker", "web")

Measure = Callable[[Tree, dict[str, str]], tuple[float, float]]  # (wall, CPU) seconds


def database(tree: Tree) -> str:
    return f"startup_{tree.label}"


def env_for(tree: Tree) -> dict[str, str]:
    """bench/run.py's stack settings, on this bench's database; pipenv on the PATH for `flask check`."""
    env = stack_env(tree, smtp_url="smtp://127.0.0.1:2525")  # nothing is mailed while starting
    path = f"{PYTHON.parent}{os.pathsep}{ROOT / '.tools' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**env, "PATH": path, "DATABASE_URL": dataset.database_url(database(tree))}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def command(args: list[str]) -> Measure:
    def measure(tree: Tree, env: dict[str, str]) -> tuple[float, float]:
        cpu, started = children_cpu(), time.monotonic()
        result = subprocess.run(
            [str(PYTHON.parent / "flask"), "--app", "blasto", *args],
            cwd=tree.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        wall = time.monotonic() - started
        if result.returncode != 0 and args != ["check"]:  # check may find this machine's env lacking; it still runs
            raise BenchError(f"flask {' '.join(args)}, {tree.label}: exit {result.returncode}\n{result.stderr[-2000:]}")
        return wall, children_cpu() - cpu

    return measure


def server(name: str) -> Measure:
    def measure(tree: Tree, env: dict[str, str]) -> tuple[float, float]:
        port = free_port()
        with ProcessSet(RESULTS / f"{tree.label}-startup", procfile_path=tree.root / "Procfile", cwd=tree.root) as run:
            started = time.monotonic()
            process = run.start(name, {**env, "DYNO": f"{name}.1", "PORT": str(port)})
            if name == "web":
                wait_for_answer(f"http://127.0.0.1:{port}/healthz", process, START_DEADLINE, interval=0.01)
            else:
                try:
                    process.wait_for_output(r" ready\.", START_DEADLINE, interval=0.01)
                except AssertionError as exc:
                    raise BenchError(f"{exc}; see {process.log_path}") from None
            wall = time.monotonic() - started
            return wall, sum(snapshot({name: process.pid}, database(tree))[name].values())

    return measure


MEASURES: dict[str, Measure] = {
    **{name: command(args) for name, args in COMMANDS.items()},
    **{name: server(name) for name in SERVERS},
}


def prepare(tree: Tree) -> dict[str, str]:
    """A fresh database migrated by the tree's own code, and an empty Redis database."""
    env = env_for(tree)
    dataset.create(database(tree))
    dataset.flask_command(tree.root, ["db", "upgrade"], env)
    redis.Redis.from_url(tree.redis_url).flushdb()
    return env


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="another source tree to measure beside this one")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    trees = [Tree("after", ROOT)] + ([Tree("before", args.before.resolve())] if args.before else [])
    RESULTS.mkdir(parents=True, exist_ok=True)
    figures: dict[tuple[str, str], list[tuple[float, float]]] = {}
    try:
        envs = {tree.label: prepare(tree) for tree in trees}
        for round_ in range(args.rounds):
            progress(f"round {round_ + 1} of {args.rounds}")
            for tree in trees if round_ % 2 == 0 else trees[::-1]:
                for name, measure in MEASURES.items():
                    figures.setdefault((tree.label, name), []).append(measure(tree, envs[tree.label]))
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    finally:
        for tree in trees:
            dataset.drop(database(tree))
    print(table(trees, figures, args.rounds))
    return 0


def table(trees: list[Tree], figures: dict[tuple[str, str], list[tuple[float, float]]], rounds: int) -> str:
    header = " | ".join(f"{tree.label} ({tree.commit}): wall / CPU s" for tree in trees)
    lines = [f"| median of {rounds} | {header} |", "|---|" + "---:|" * len(trees)]
    for name in MEASURES:
        cells = []
        for tree in trees:
            runs = figures[(tree.label, name)]
            cells.append(f"{statistics.median(w for w, _ in runs):.2f} / {statistics.median(c for _, c in runs):.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
