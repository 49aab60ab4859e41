"""Where the time of `GET /api/v1/purchases` goes: under load, on the wire, in-process, in Postgres.

Run from the repository root: `.venv/bin/python bench/profile_purchases.py [--keep-data]`.
It builds the bench's data set (bench/dataset.py: Postgres `blasto_bench`, a
shopper with 1,000 purchases), then reports:

1. Under load: gunicorn.conf.py and wrk exactly as bench/run.py runs them, for
   bare Flask, the API index, the purchases page and a "floor" version of it
   (bench/apps/floor_purchases.py), with the CPU time each party used
   per request: the gunicorn workers, the Postgres backends serving
   blasto_bench, wrk, and everything else on the machine. On 2 shared cores
   that sum is what bounds req/s.
2. The round trips one warm request makes to Postgres, caught in psycopg:
   every statement (with its bound values) and every internal command such
   as BEGIN or ROLLBACK.
3. The in-process cost of the parts, one thread, best of 5 batches (robust to
   other load on the machine): the test-client request in wall and CPU time,
   the decorated view alone, jsonify, url_for, webargs, and each captured
   statement replayed on a bare libpq connection, unprepared (as the app
   sends it) and server-side prepared.
4. Postgres' own planning and execution time of each captured statement
   (EXPLAIN ANALYZE) with its plan.
5. cProfile (CPU-time clock) of 500 test-client requests, own time by package.
6. A page-cache hit in-process (Redis db 13): through the app's whole
   WSGI stack, the Redis lookup alone, and a bare PING for scale.

Nothing here changes the app; it is measured as it is in the working tree,
and it reads no private names of the app's modules, so it keeps working
while the code under it changes.
The data set is dropped at the end unless --keep-data is given.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import secrets
import statistics
import sys
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import dataset as bench_data  # noqa: E402
from bench.run import (  # noqa: E402
    MEASURE_ATTEMPTS, RESULTS, START_DEADLINE, WARMUP_SECONDS, BenchError, Processes, _process_table, _stat_fields,
    answers_ok, bench_env, finish_wrk, free_port, gunicorn_args, measured_run, process_tree, progress, start_wrk,
    wait_until,
)

PATH = "/api/v1/purchases"
CACHED_REDIS_URL = "redis://127.0.0.1:6379/13"  # not the bench's db 14, which bench/run.py clears
LOAD_SECONDS = 5
CLK_TCK = os.sysconf("SC_CLK_TCK")
BATCHES = 5


# --- 1. under load ------------------------------------------------------------

def postgres_backends(database: str) -> list[int]:
    """Backends connected to `database` (their command line names it)."""
    pids = []
    for pid, _, _ in _process_table():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"postgres: ") and f" {database} ".encode() in cmdline:
            pids.append(pid)
    return pids


def ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])
    return total


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def under_load(processes: Processes, name: str, app: str, path: str, extra_env: dict[str, str],
               headers: dict[str, str]) -> dict[str, float]:
    port = free_port()
    service = processes.start(f"profile-{name}", gunicorn_args(app), {"PORT": str(port), **extra_env})
    try:
        wait_until(answers_ok(port, path, headers), name, service, START_DEADLINE, 0.05)
        finish_wrk(start_wrk(port, path, WARMUP_SECONDS, headers), WARMUP_SECONDS)
        workers = process_tree(service.proc.pid)[1:]
        backends = postgres_backends(bench_data.DATABASE) if extra_env else []
        for _ in range(MEASURE_ATTEMPTS):  # as bench/run.py: a run where one worker holds every connection is redone
            before = (ticks(workers), ticks(backends), resource.getrusage(resource.RUSAGE_CHILDREN), machine_busy_ticks())
            sample = measured_run(port, path, LOAD_SECONDS, workers, headers)
            after = (ticks(workers), ticks(backends), resource.getrusage(resource.RUSAGE_CHILDREN), machine_busy_ticks())
            if sample:
                break
        else:
            raise BenchError(f"{name}: one worker took every connection in {MEASURE_ATTEMPTS} attempts in a row")
    finally:
        processes.stop(service)
    requests = sample.rps * LOAD_SECONDS
    per_request = lambda jiffies: jiffies / CLK_TCK * 1000 / requests  # noqa: E731  (ms of CPU)
    wrk_s = (after[2].ru_utime + after[2].ru_stime) - (before[2].ru_utime + before[2].ru_stime)
    busy, total = after[3][0] - before[3][0], after[3][1] - before[3][1]
    gunicorn_ms, postgres_ms, wrk_ms = per_request(after[0] - before[0]), per_request(after[1] - before[1]), wrk_s * 1000 / requests
    return {
        "rps": sample.rps, "p99": sample.p99_ms, "errors": sample.errors,
        "gunicorn": gunicorn_ms, "postgres": postgres_ms, "wrk": wrk_ms,
        "other": per_request(busy) - gunicorn_ms - postgres_ms - wrk_ms, "idle": 1 - busy / total,
    }


def report_under_load(processes: Processes, data: bench_data.Dataset, rounds: int) -> None:
    print(f"1. Under load: gunicorn.conf.py (2 gthread workers x 4 threads), wrk -t1 -c16, {WARMUP_SECONDS} s warm-up "
          f"+ {LOAD_SECONDS} s, median of {rounds} interleaved rounds; CPU ms per request by process")
    rows = [
        ("flask /", "bench.apps.hello_flask:app", "/", {}, {}),
        ("blasto /api/v1/home", "blasto:APP", "/api/v1/home", {}, {}),
        ("blasto /api/v1/purchases", "blasto:APP", PATH, {"DATABASE_URL": data.database_url},
         {"Authorization": data.auth_header}),
        ("floor, JSON built by Postgres", "bench.apps.floor_purchases:app", PATH, {"DATABASE_URL": data.database_url},
         {"Authorization": data.auth_header}),
        ("floor, rows + json.dumps", "bench.apps.floor_purchases:app", PATH + "-rows",
         {"DATABASE_URL": data.database_url}, {"Authorization": data.auth_header}),
    ]
    results: dict[str, list[dict[str, float]]] = defaultdict(list)
    for round_no in range(1, rounds + 1):
        for label, app, path, env, headers in rows:
            results[label].append(under_load(processes, label.split()[0] + path.replace("/", "-"), app, path, env, headers))
            progress(f"profile: round {round_no}/{rounds} {label}: {results[label][-1]['rps']:.1f} req/s")
    baseline = statistics.median(r["rps"] for r in results["flask /"])
    columns = ("rps", "p99", "gunicorn", "postgres", "wrk", "other", "idle")
    print(f"   {'target':<30} {'req/s':>8} {'vs flask':>9} {'p99 ms':>8} {'gunicorn':>9} {'postgres':>9} {'wrk':>6} {'other':>6} {'idle':>5}")
    for label, *_ in rows:
        m = {column: statistics.median(r[column] for r in results[label]) for column in columns}
        errors = sum(r["errors"] for r in results[label])
        print(f"   {label:<30} {m['rps']:>8.1f} {m['rps'] / baseline:>8.2f}x {m['p99']:>8.2f} {m['gunicorn']:>9.3f} "
              f"{m['postgres']:>9.3f} {m['wrk']:>6.3f} {m['other']:>6.3f} {m['idle']:>5.0%}" + (f"  errors {errors}" if errors else ""))
    print("   (other = the rest of the machine: other sessions, the kernel's share not charged to a process.\n"
          "    floor = bench/apps/floor_purchases.py: bare Flask, bare psycopg and one prepared statement per\n"
          "    request, with the JSON built by Postgres or by Python from rows: about the least work this\n"
          "    endpoint can do with Flask and Postgres.)\n")


# --- in-process set-up ------------------------------------------------------------

def load_app(data: bench_data.Dataset):
    """Blasto's APP as gunicorn would build it, on the bench database (env set before import)."""
    os.environ.update(DATABASE_URL=data.database_url, BLASTO_ENV="production", SECRET_KEY=secrets.token_hex(32))
    for variable in ("REDIS_URL", "DATABASE_POOL_SIZE", "LOG_LEVEL"):
        os.environ.pop(variable, None)
    import blasto

    return blasto.APP


def per_call_us(fn: Callable[[], object], n: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """Best of BATCHES batches of n calls, in microseconds per call (wall clock unless told)."""
    fn()
    best = float("inf")
    for _ in range(BATCHES):
        started = clock()
        for _ in range(n):
            fn()
        best = min(best, clock() - started)
    return best / n * 1e6


# --- 2. round trips -------------------------------------------------------------

@dataclass(frozen=True)
class Sent:
    """One message psycopg sent: an internal command (BEGIN, ROLLBACK, ...) or a statement with its bound values."""
    sql: bytes
    params: tuple | None = None  # None for internal commands
    types: tuple | None = None
    formats: tuple | None = None
    how: str = "command"  # or "unprepared", "prepare" (parse + plan, its own round trip), "prepared"

    @property
    def is_statement(self) -> bool:
        """A statement executed (not a command, not the separate PREPARE message)."""
        return self.how in ("unprepared", "prepared")


@contextmanager
def wire_log():
    """Every statement and internal command psycopg sends, in order, with what it bound."""
    import psycopg._connection_base as connection_base
    import psycopg._cursor_base as cursor_base

    sent: list[Sent] = []
    cursor = cursor_base.BaseCursor
    originals = (connection_base.BaseConnection._exec_command, cursor._execute_send, cursor._send_prepare,
                 cursor._send_query_prepared)

    def statement(query, how: str) -> Sent:
        return Sent(query.query, tuple(query.params or ()), tuple(query.types or ()), tuple(query.formats or ()), how)

    def exec_command(self, command, *args, **kwargs):
        sent.append(Sent(command if isinstance(command, bytes) else str(command).encode()))
        return originals[0](self, command, *args, **kwargs)

    def execute_send(self, query, *args, **kwargs):
        sent.append(statement(query, "unprepared"))
        return originals[1](self, query, *args, **kwargs)

    def send_prepare(self, name, query, *args, **kwargs):
        sent.append(statement(query, "prepare"))
        return originals[2](self, name, query, *args, **kwargs)

    def send_query_prepared(self, name, query, *args, **kwargs):
        sent.append(statement(query, "prepared"))
        return originals[3](self, name, query, *args, **kwargs)

    connection_base.BaseConnection._exec_command = exec_command
    cursor._execute_send, cursor._send_prepare, cursor._send_query_prepared = execute_send, send_prepare, send_query_prepared
    try:
        yield sent
    finally:
        connection_base.BaseConnection._exec_command = originals[0]
        cursor._execute_send, cursor._send_prepare, cursor._send_query_prepared = originals[1:]


def short(sql: bytes, width: int = 100) -> str:
    text = " ".join(sql.decode().split())
    return text if len(text) <= width else text[:width - 3] + "..."


def capture_request(app, headers: dict[str, str]) -> list[Sent]:
    """What one warm request sends to Postgres, in the steady state of a loaded server.

    Its connection was used moments before, and often enough for psycopg to
    have prepared what it prepares (after `prepare_threshold`, 5, executions).
    """
    client = app.test_client()
    for _ in range(12):
        client.get(PATH, headers=headers)
    with wire_log() as sent:
        response = client.get(PATH, headers=headers)
    if response.status_code != 200:
        raise BenchError(f"GET {PATH} answered {response.status_code}: {response.data[:200]!r}")
    return sent


def report_round_trips(sent: list[Sent]) -> None:
    print(f"2. Round trips to Postgres for one warm request: {len(sent)}")
    for number, message in enumerate(sent, 1):
        kind = f"{message.how} statement, {len(message.params)} parameters" if message.params is not None else "command"
        print(f"   {number}. [{kind}] {short(message.sql)}")
    print("   (After 12 requests on one connection. psycopg prepares a statement server-side after 5\n"
          "    executions, but forgets its counts at every ROLLBACK: a statement run once per\n"
          "    transaction that ends in ROLLBACK is parsed and planned by Postgres on every request.)\n")


# --- 3. in-process parts ----------------------------------------------------------

def replay_us(conn, message: Sent, prepared: bool) -> float:
    """A captured statement on a bare libpq connection: Postgres and the wire, no SQLAlchemy or app."""
    pgconn = conn.pgconn
    if prepared:
        name = b"bench_%d" % (hash(message.sql) & 0xFFFFFF)
        pgconn.prepare(name, message.sql, list(message.types) or None)
        run = lambda: pgconn.exec_prepared(name, list(message.params), list(message.formats) or None)  # noqa: E731
    else:
        run = lambda: pgconn.exec_params(message.sql, list(message.params), list(message.types) or None,  # noqa: E731
                                         list(message.formats) or None)
    result = run()
    if result.status not in (1, 2):  # COMMAND_OK, TUPLES_OK
        raise BenchError(f"replaying {short(message.sql)} failed: {result.error_message!r}")
    return per_call_us(run, 500)


def report_parts(app, data: bench_data.Dataset, headers: dict[str, str], sent: list[Sent]) -> None:
    import json

    import psycopg
    from flask import jsonify, url_for

    from bench.apps.hello_flask import app as hello

    rows: list[tuple[str, float]] = []
    client, hello_client = app.test_client(), hello.test_client()
    full_wall = per_call_us(lambda: client.get(PATH, headers=headers), 300)
    full_cpu = per_call_us(lambda: client.get(PATH, headers=headers), 300, time.process_time)
    rows.append(("full request, test client (wall clock)", full_wall))
    rows.append(("  the same, CPU time of this process only (without waiting for Postgres)", full_cpu))
    rows.append(("  bare Flask hello, test client", per_call_us(lambda: hello_client.get("/"), 2000)))
    rows.append(("  blasto /api/v1/home, test client", per_call_us(lambda: client.get("/api/v1/home"), 2000)))

    with app.test_request_context(PATH, headers=headers):
        view = app.view_functions["purchases.list_purchases"]
        rows.append(("the decorated view alone (auth, webargs, flask-smorest wrappers, query, JSON), wall",
                     per_call_us(view, 300)))
        rows.append(("  the same, CPU time", per_call_us(view, 300, time.process_time)))
        body = client.get(PATH, headers=headers).get_json()
        size = len(json.dumps(body, separators=(",", ":")))
        rows.append((f"jsonify() of the page ({size} bytes; sorts keys, indents nothing)", per_call_us(lambda: jsonify(body), 2000)))
        rows.append(("  json.dumps(), no sort_keys, compact", per_call_us(lambda: json.dumps(body, separators=(",", ":")), 2000)))
        rows.append(("url_for('purchases.list_purchases', page=2, per_page=20) x 1",
                     per_call_us(lambda: url_for("purchases.list_purchases", page=2, per_page=20), 20000)))
        try:
            from flask_smorest import Blueprint

            from blasto.api.schemas import PageArgsSchema

            schema = PageArgsSchema()
            rows.append(("webargs: PageArgsSchema from the query string",
                         per_call_us(lambda: Blueprint.ARGUMENTS_PARSER.parse(schema, location="query"), 5000)))
        except ImportError:
            pass

    statements = [message for message in sent if message.is_statement]
    with psycopg.connect(f"{bench_data.SERVER_URL}/{bench_data.DATABASE}", autocommit=True) as conn:
        for number, message in enumerate(statements, 1):
            rows.append((f"statement {number} replayed on bare libpq (Postgres + wire only), unprepared", replay_us(conn, message, False)))
            rows.append(("  the same, server-side prepared", replay_us(conn, message, True)))

    print("3. In-process cost of each part, one thread (best of 5 batches), microseconds per call")
    for label, us in rows:
        print(f"   {label:<88} {us:>8.1f}")
    print()
    return None


# --- 4. Postgres' own time -----------------------------------------------------------

def report_explain(sent: list[Sent]) -> None:
    """Planning and execution of each captured statement, as Postgres reports them."""
    import psycopg

    print("4. Postgres' own time per statement (EXPLAIN ANALYZE, median of 20 in one warm session), ms")
    with psycopg.connect(f"{bench_data.SERVER_URL}/{bench_data.DATABASE}", autocommit=True) as conn:
        for number, message in enumerate((m for m in sent if m.is_statement), 1):
            planning, execution, plan = [], [], []
            for _ in range(20):
                result = conn.pgconn.exec_params(b"EXPLAIN (ANALYZE, SUMMARY ON, TIMING OFF) " + message.sql,
                                                 list(message.params), list(message.types) or None, list(message.formats) or None)
                lines = [result.get_value(row, 0).decode() for row in range(result.ntuples)]
                planning.append(float(next(line for line in lines if line.startswith("Planning Time")).split()[2]))
                execution.append(float(next(line for line in lines if line.startswith("Execution Time")).split()[2]))
                plan = lines
            print(f"   statement {number}: planning {statistics.median(planning):.3f}, execution {statistics.median(execution):.3f}; "
                  f"{short(message.sql, 70)}")
            for line in plan:
                if "Time:" not in line and ("->" in line or not line.startswith(" ")):
                    print(f"      {line.split('  (cost')[0].rstrip()[:110]}")
    print()


# --- 5. cProfile ----------------------------------------------------------------------

PACKAGES = ("sqlalchemy", "psycopg", "flask_smorest", "webargs", "marshmallow", "flask_sqlalchemy", "flask", "werkzeug",
            "json", "blasto", "jinja2")


def package_of(filename: str) -> str:
    if "/blasto/" in filename and "site-packages" not in filename:
        return "blasto"
    for package in PACKAGES:
        if f"/{package}/" in filename:
            return package
    return "builtins / C" if filename.startswith("~") or filename == "" else "stdlib / other"


def report_cprofile(app, headers: dict[str, str], requests: int = 500) -> None:
    """CPU time, not wall time: under load the workers' CPU is what runs out (section 1)."""
    client = app.test_client()
    for _ in range(50):
        client.get(PATH, headers=headers)
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    for _ in range(requests):
        client.get(PATH, headers=headers)
    profile.disable()
    stats = pstats.Stats(profile)
    by_package: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_package[package_of(filename)] += tottime
    total = sum(by_package.values())
    print(f"5. cProfile of {requests} test-client requests (CPU-time clock): own time by package, us per request "
          f"(profiler overhead included, so compare shares)")
    for package, seconds in sorted(by_package.items(), key=lambda item: -item[1]):
        print(f"   {package:<20} {seconds / requests * 1e6:>8.0f}  {seconds / total:>4.0%}")
    print()
    own = [(key, value) for key, value in stats.stats.items() if package_of(key[0]) == "blasto"]  # type: ignore[attr-defined]
    print("   Blasto's own functions by cumulative time (everything they call), us per request:")
    for (filename, line, function), (_, _, _, cumtime, _) in sorted(own, key=lambda item: -item[1][3])[:14]:
        print(f"     {cumtime / requests * 1e6:>7.0f}  {Path(filename).parent.name}/{Path(filename).name}:{line}({function})")
    top = Counter({f"{Path(f).name}:{l}({fn})": v[2] for (f, l, fn), v in stats.stats.items()})  # type: ignore[attr-defined]
    print("   top functions by own time, us per request:")
    for name, seconds in top.most_common(12):
        print(f"     {seconds / requests * 1e6:>7.0f}  {name}")
    print()


# --- 6. cached hits ----------------------------------------------------------------------

def report_cached_hits(headers: dict[str, str]) -> None:
    """What a page-cache hit costs in-process, and how much of it is the Redis round trip."""
    import redis

    from bench.apps.hello_flask import app as hello
    from blasto.api.purchase_cache import EXTENSION_KEY, page_suffix
    from blasto.app import create_app
    from blasto.models.token import token_digest

    redis.Redis.from_url(CACHED_REDIS_URL).flushdb()
    app = create_app({"PURCHASE_CACHE": {"url": CACHED_REDIS_URL, "seconds": 60}})
    client, hello_client = app.test_client(), hello.test_client()
    for _ in range(3):  # learn the token, store the page, hit
        client.get(PATH, headers=headers)
    cache = app.extensions[EXTENSION_KEY]
    digest = token_digest(headers["Authorization"].partition(" ")[2])
    suffix = page_suffix({"QUERY_STRING": "", "SCRIPT_NAME": ""})
    if cache.lookup(digest, suffix).body is None:
        raise BenchError("the page was not kept in Redis after three reads")
    cpu = time.process_time
    rows = [
        ("a hit through the app's whole WSGI stack (test client)", per_call_us(lambda: client.get(PATH, headers=headers), 2000, cpu)),
        ("  the Redis lookup alone (one EVALSHA: token, generations, page)", per_call_us(lambda: cache.lookup(digest, suffix), 2000, cpu)),
        ("  a bare Redis PING on the same client, for scale", per_call_us(cache.client.ping, 2000, cpu)),
        ("blasto /api/v1/home, test client", per_call_us(lambda: client.get("/api/v1/home"), 2000, cpu)),
        ("bare Flask hello, test client", per_call_us(lambda: hello_client.get("/"), 2000, cpu)),
    ]
    print(f"6. Cache hits in-process, with the page kept in Redis ({CACHED_REDIS_URL}): CPU us per call, best of {BATCHES}")
    for label, us in rows:
        print(f"   {us:>8.1f}  {label}")
    print()
    redis.Redis.from_url(CACHED_REDIS_URL).flushdb()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-data", action="store_true", help=f"leave {bench_data.DATABASE} in place")
    parser.add_argument("--skip-load", action="store_true", help="skip section 1 (wrk under load)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of section 1 (default 3)")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    processes = Processes(bench_env())
    try:
        data = bench_data.build(processes.env)
        print(f"data set: {data.purchases} purchases, {data.shopper_purchases} by user {data.shopper_id}, "
              f"{data.lines} lines; load average {Path('/proc/loadavg').read_text().split()[0]}\n", flush=True)
        headers = {"Authorization": data.auth_header}
        if not args.skip_load:
            report_under_load(processes, data, max(1, args.rounds))
        app = load_app(data)
        sent = capture_request(app, headers)
        report_round_trips(sent)
        report_parts(app, data, headers, sent)
        report_explain(sent)
        report_cprofile(app, headers)
        report_cached_hits(headers)
        from blasto.core.extensions import db

        with app.app_context():
            db.engine.dispose()
    except (BenchError, bench_data.DatasetError) as exc:
        print(f"profile: {exc}", file=sys.stderr)
        return 1
    finally:
        processes.stop_all()
        if not args.keep_data:
            bench_data.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
