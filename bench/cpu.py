"""CPU time per request and memory of each process of the stack, under the mixed shopper workload at a fixed load.

The step search (bench/run.py) answers how many requests per second a stack
sustains, which on a machine shared with other work is noise. This answers
where a request's cost goes, which a busy machine barely moves: the Procfile's
web, worker and clock and the Postgres backends serving them, each one's CPU
seconds (utime + stime from /proc) over a counted window, divided by the
requests the window served; and the PSS each process group holds when the
window ends (bench/run.py reads it only after a whole search). Run from the
repository root:

    .venv/bin/python bench/cpu.py [--before TREE] [--users 120] [--seconds 30] [--rounds 2]

Same data, stack and users as `python3 dev.py bench` (bench/run.py's own
functions), one steady step per tree and round (bench/load.py's `steady`
mode), trees alternating. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from contextlib import ExitStack
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import dataset  # noqa: E402
from bench.run import (  # noqa: E402
    PROCESSES,
    PYTHON,
    READY_DEADLINE,
    RESULTS,
    BenchError,
    Tree,
    base_env,
    child,
    group_pss_mb,
    progress,
    smtp_sink,
    stack_env,
    wait_for_answer,
)
from tests.support.processes import free_port  # noqa: E402
from tests.support.procfile_processes import ProcessSet  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def snapshot(groups: dict[str, int], database: str) -> dict[str, dict[int, float]]:
    """CPU seconds so far of every process in each group (by process group id), and of the database's backends."""
    seen: dict[str, dict[int, float]] = {name: {} for name in (*groups, "postgres")}
    by_group = {pgid: name for name, pgid in groups.items()}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid = int(stat.parent.name)
            pgid = int(stat.read_text().rpartition(")")[2].split()[2])
            if pgid in by_group:
                seen[by_group[pgid]][pid] = cpu_seconds(pid)
                continue
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if command.startswith("postgres: ") and f" {database} " in command:
                seen["postgres"][pid] = cpu_seconds(pid)
        except (OSError, ValueError):
            continue  # exited while we looked
    return seen


def spent(first: dict[str, dict[int, float]], last: dict[str, dict[int, float]]) -> dict[str, float]:
    """CPU seconds per group between two snapshots (a process born in between counts from zero)."""
    return {name: sum(cpu - first[name].get(pid, 0.0) for pid, cpu in pids.items()) for name, pids in last.items()}


def measure(tree: Tree, smtp_url: str, users: int, warm: float, seconds: float) -> dict:
    dataset.copy(f"{tree.database}_seed", tree.database)
    redis.Redis.from_url(tree.redis_url).flushdb()
    env, port = stack_env(tree, smtp_url), free_port()
    with ProcessSet(RESULTS / f"cpu-{tree.label}", procfile_path=tree.root / "Procfile", cwd=tree.root) as stack:
        for name in PROCESSES:
            stack.start(name, {**env, "DYNO": f"{name}.1", "PORT": str(port)})
        base = f"http://127.0.0.1:{port}"
        wait_for_answer(f"{base}/readyz", stack["web"], READY_DEADLINE, interval=0.5)
        groups = {name: stack[name].pid for name in PROCESSES}
        command = [str(PYTHON), "-m", "bench.load", "steady", "--host", base, "--users", str(users)]
        command += ["--warm", str(warm), "--seconds", str(seconds)]
        first = last = None
        with child(
            command, RESULTS / f"cpu-{tree.label}-locust.log", {**base_env(), "BENCH_DATA": str(tree.data_file)}
        ) as proc:
            for line in proc.stdout:
                result = json.loads(line)
                if result.get("counting"):
                    first = snapshot(groups, tree.database)
                else:
                    last = snapshot(groups, tree.database)
                    break
        pss = {name: group_pss_mb(pgid) for name, pgid in groups.items()}
        if first is None or last is None:
            raise BenchError(f"bench/load.py steady failed; see {RESULTS / f'cpu-{tree.label}-locust.log'}")
    cpu = spent(first, last)
    return {
        "requests": result["requests"],
        "rps": result["rps"],
        "failures": result["failures"],
        "p50": result["p50"],
        "p99": result["p99"],
        "cpu": cpu,
        "pss_mb": pss,
        "pages": result["pages"],
        "errors": result["errors"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="a second source tree (a worktree of an older commit)")
    parser.add_argument("--users", type=int, default=120)
    parser.add_argument("--warm", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    trees = [Tree("after", ROOT)] + ([Tree("before", args.before.resolve())] if args.before else [])
    results: dict[str, list[dict]] = {tree.label: [] for tree in trees}
    RESULTS.mkdir(parents=True, exist_ok=True)
    try:
        with ExitStack() as cleanup:
            cleanup.callback(lambda: [dataset.drop(n) for t in trees for n in (t.database, f"{t.database}_seed")])
            smtp_url = cleanup.enter_context(smtp_sink())
            for tree in trees:
                progress(f"data, {tree.label}: {tree.database}_seed from {tree.root}")
                tree.data = dataset.build(tree.root, f"{tree.database}_seed", base_env())
                tree.data.write(tree.data_file)
            for round_number in range(args.rounds):
                for tree in trees[::-1] if round_number % 2 == 0 else trees:
                    figures = measure(tree, smtp_url, args.users, args.warm, args.seconds)
                    results[tree.label].append(figures)
                    per = {name: 1000 * cpu / max(1, figures["requests"]) for name, cpu in figures["cpu"].items()}
                    progress(
                        f"  {tree.label}: {figures['rps']:.1f} req/s, p50 {figures['p50']} ms, p99 {figures['p99']} ms, "
                        f"{figures['failures']} failures; CPU ms per request "
                        + ", ".join(f"{name} {ms:.2f}" for name, ms in per.items())
                        + "; PSS MB "
                        + ", ".join(f"{name} {mb:.0f}" for name, mb in figures["pss_mb"].items())
                    )
    except (BenchError, dataset.DatasetError) as exc:
        progress(f"cpu: {exc}")
        return 2
    shown = [tree.label for tree in trees[::-1]]
    print(f"CPU ms per request and PSS at {args.users} users, median of {args.rounds} rounds of {args.seconds:g} s:\n")
    print("| process | " + " | ".join(shown) + " |")
    print("|---|" + "---:|" * len(shown))
    for name in (*PROCESSES, "postgres", "total"):
        cells = []
        for label in shown:
            values = [
                1000 * (sum(r["cpu"].values()) if name == "total" else r["cpu"][name]) / max(1, r["requests"])
                for r in results[label]
            ]
            cells.append(f"{statistics.median(values):.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    for name in PROCESSES:
        cells = [f"{statistics.median(r['pss_mb'][name] for r in results[label]):.0f}" for label in shown]
        print(f"| PSS of {name}, MB | " + " | ".join(cells) + " |")
    print(
        "| requests per second | "
        + " | ".join(f"{statistics.median(r['rps'] for r in results[label]):.1f}" for label in shown)
        + " |"
    )
    (RESULTS / "cpu.json").write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
