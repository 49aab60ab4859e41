"""What one request of each page of the shopper workload costs, in process: CPU, SQL statements, Redis commands.

Load-independent figures, to explain a change of the mixed workload's rate
(docs/BENCHMARKS.md) on a busy machine where wall-clock rates are noise. For
one or two source trees, each on a fresh database that bench/dataset.py builds
with that tree's own migrations (dropped at the end unless --keep):

    .venv/bin/python bench/pages.py [--before TREE] [--visits 40] [--profile PAGE | --sql PAGE] [--keep]

Each tree is measured in its own child process (its own `blasto` on the
path) with the production settings of the bench's web dyno (Postgres; Redis
database 12, or BENCH_REDIS_URL, flushed; HTTPS behind the router). Each visit
of bench/shoppers.py's buyers and API clients is replayed through Flask's test
client: forms posted as rendered (CSRF token, Referer), the shipping fields
only where the tree asks for them (bench/shopper_input.py). Per page: the mean
CPU time of the process (`time.process_time`, which a busy machine barely
moves), wall time (which it does), SQL statements, pool check-outs (each a
pre-ping round trip), Redis commands and the answer's size; then the mean per
request of the mix the step search measured (SHARES). The worker's side too:
the CPU to render and send each e-mail the checkouts owed (the tree's own
outbox delivery, to a local sink). `--profile PAGE` prints cProfile's top
functions for that page, `--sql PAGE` one request's statements.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")  # flushed; bench/run.py uses 11
# Each page's share of the mixed workload's requests, in %, as `dev.py bench` measured it (docs/BENCHMARKS.md,
# 08:03 run, 454 users); the retried API purchase is counted with the purchases.
SHARES = {
    "GET /api/v1/products": 3.8,
    "GET /api/v1/products/<id>": 4.0,
    "GET /api/v1/purchases": 4.3,
    "POST /api/v1/purchases": 4.1,
    "GET /books": 7.4,
    "GET /books/<id>": 28.7,
    "GET /books?q=": 8.6,
    "GET /cart": 4.8,
    "POST /cart/add": 4.8,
    "GET /checkout": 0.6,
    "GET /checkout (signed out)": 1.1,
    "POST /checkout": 0.7,
    "GET /home": 14.3,
    "GET /login": 1.8,
    "POST /login": 1.2,
    "GET /purchases": 1.4,
    "GET /purchases/<id>": 1.2,
    "GET /static/css/site.css": 7.3,
}


def run_tree(tree: Path, database: str, visits: int, profile: str | None, sql: str | None, keep: bool) -> dict:
    """The figures of one tree, from a child process that imports that tree's `blasto`."""
    sys.path.insert(0, str(ROOT))
    from bench import dataset

    data_file = ROOT / "bench" / "results" / f"pages-{database}.json"
    data_file.parent.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "BLASTO_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": dataset.database_url(database),
        "REDIS_URL": REDIS_URL,
        "SMTP_URL": "smtp://127.0.0.1:1",  # replaced by the child's own sink
        "MAIL_FROM": "Blasto <shop@blasto.example>",
        "PYTHONPATH": str(tree),
        "BENCH_DATA": str(data_file),
    }
    if not (keep and data_file.exists()):
        print(f"data: {database} from {tree}", file=sys.stderr, flush=True)
        dataset.build(tree, database, env).write(data_file)
    try:
        return measure_tree(tree, env, data_file, visits, profile, sql)
    finally:
        if not keep:
            dataset.drop(database)
            data_file.unlink(missing_ok=True)


def measure_tree(tree: Path, env: dict, data_file: Path, visits: int, profile: str | None, sql: str | None) -> dict:
    out = data_file.with_suffix(".figures.json")
    command = [str(PYTHON), str(Path(__file__).resolve()), "--child", str(visits), "--out", str(out)]
    if profile:
        command += ["--profile", profile]
    if sql:
        command += ["--sql", sql]
    result = subprocess.run(
        command, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False
    )
    sys.stderr.write(result.stderr)
    if result.returncode != 0:
        raise SystemExit(f"pages: the child for {tree} failed ({result.returncode})")
    return json.loads(out.read_text())


# --- the child: one tree, in process ------------------------------------------------------------


def child(visits: int, profile: str | None, show_sql: str | None) -> dict:
    import cProfile
    import io
    import pstats
    import random
    import time
    from urllib.parse import urlencode, urlsplit

    import redis
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink
    from sqlalchemy import event

    # What the users send, from this file's tree (bench/shopper_input.py); `blasto` from the measured one.
    spec = importlib.util.spec_from_file_location("bench_shopper_input", ROOT / "bench" / "shopper_input.py")
    shopper_input = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(shopper_input)  # type: ignore[union-attr]
    data, search_term, shipping_for, forms_of = (
        shopper_input.data,
        shopper_input.search_term,
        shopper_input.shipping_for,
        lambda response: shopper_input.Forms(response.get_data(as_text=True)).forms,
    )

    from blasto import create_app
    from blasto.core.extensions import db

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = Controller(Sink(), hostname="127.0.0.1", port=port, server_hostname="pages-sink")
    sink.start()
    os.environ["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    redis.Redis.from_url(REDIS_URL).flushdb()
    app = create_app()
    random.seed(7)
    counts = {"sql": 0, "checkouts": 0, "redis": 0}
    figures: dict[str, dict] = {}
    profiler = cProfile.Profile() if profile else None
    current: dict = {}

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(conn, cursor, statement, parameters, context, executemany):
        counts["sql"] += 1
        if show_sql and current.get("name") == show_sql and not current.get("shown"):
            print(f"-- {show_sql}: {' '.join(statement.split())} -- {parameters}", file=sys.stderr)

    @event.listens_for(engine, "checkout")
    def _checkout(*args):
        counts["checkouts"] += 1

    original = redis.connection.Connection.send_command

    def send_command(self, *args, **kwargs):
        counts["redis"] += 1
        return original(self, *args, **kwargs)

    redis.connection.Connection.send_command = send_command  # type: ignore[method-assign]

    client = app.test_client()
    state = {"address": "10.0.0.1", "last": "/"}

    def call(method: str, path: str, name: str, expect: int, **kwargs):
        headers = {"X-Forwarded-For": state["address"], "X-Forwarded-Proto": "https", **kwargs.pop("headers", {})}
        before = dict(counts)
        current["name"] = name
        if profiler and name == profile:
            profiler.enable()
        started, started_wall = time.process_time(), time.perf_counter()
        response = client.open(path, method=method, headers=headers, **kwargs)
        body = response.get_data()
        spent, waited = time.process_time() - started, time.perf_counter() - started_wall
        if profiler and name == profile:
            profiler.disable()
        if response.status_code != expect:
            raise SystemExit(f"{method} {path}: {response.status_code}, expected {expect}: {body[:300]!r}")
        if name == show_sql and figures:
            current["shown"] = True  # one request's statements, after the warm-up
        page = figures.setdefault(
            name, {"requests": 0, "cpu": 0.0, "wall": 0.0, "sql": 0, "checkouts": 0, "redis": 0, "bytes": 0}
        )
        page["requests"] += 1
        page["cpu"] += spent
        page["wall"] += waited
        page["bytes"] += len(body)
        for key in counts:
            page[key] += counts[key] - before[key]
        return response

    def page(path: str, name: str):
        response = call("GET", path, f"GET {name}", 200)
        state["last"] = path
        return forms_of(response)

    def submit(forms, path: str, name: str, values: dict | None = None):
        action, fields = forms.get(path, ("", {}))
        return call(
            "POST",
            action or path,
            f"POST {name}",
            303,
            data=urlencode({**fields, **(values or {})}),
            headers={
                "Referer": f"https://localhost{state['last']}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )

    def location(response) -> str:
        parts = urlsplit(response.headers.get("Location", ""))
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def new_visit():
        state["address"] = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
        client._cookies.clear()

    def arrive():
        new_visit()
        page("/home", "/home")
        call("GET", "/static/css/site.css", "GET /static/css/site.css", 200)

    def look_around():
        page(f"/books?page={random.randint(1, 3)}", "/books")
        page(f"/books?{urlencode({'q': search_term()})}", "/books?q=")
        book = random.choice(data()["books"])[0]
        return page(f"/books/{book}", "/books/<id>")

    def sign_in(login_path: str):
        forms = page(login_path, "/login")
        values = {"email": random.choice(data()["shoppers"]), "password": data()["password"]}
        submit(forms, "/login", "/login", values)

    def buy():
        arrive()
        forms = look_around()
        added = submit(forms, "/cart/add", "/cart/add")
        page(location(added) or "/cart", "/cart")
        asked = call("GET", "/checkout", "GET /checkout (signed out)", 302)
        sign_in(location(asked))
        forms = page("/checkout", "/checkout")
        placed = submit(forms, "/checkout", "/checkout", shipping_for(forms.get("/checkout", ("", {}))[1]))
        page(location(placed), "/purchases/<id>")
        page("/purchases", "/purchases")

    def api():
        new_visit()
        auth = {"Authorization": f"Bearer {random.choice(data()['api_tokens'])}"}
        call("GET", f"/api/v1/products?page={random.randint(1, 3)}", "GET /api/v1/products", 200, headers=auth)
        book = random.choice(data()["books"])[0]
        call("GET", f"/api/v1/products/{book}", "GET /api/v1/products/<id>", 200, headers=auth)
        order: dict = {"items": [{"product_id": book, "quantity": 1}]}
        if shipping_asked:
            order.update(shipping_address=shopper_input.ADDRESS, shipping_option="standard")
        headers = {**auth, "Idempotency-Key": secrets.token_hex(16)}
        call("POST", "/api/v1/purchases", "POST /api/v1/purchases", 201, json=order, headers=headers)
        call("GET", "/api/v1/purchases", "GET /api/v1/purchases", 200, headers=auth)

    openapi = client.get("/api/v1/openapi.json", headers={"X-Forwarded-Proto": "https"}).get_json()
    shipping_asked = shopper_input.api_asks_shipping(openapi)
    for _ in range(3):  # warm up: templates compiled, pools filled
        buy()
        api()
    # Every book's page once, as hours of traffic would have: what a process keeps per book (the tree's
    # "also bought") is then measured as the workload meets it, not as the first visit to each book.
    for book, *_ in data()["books"]:
        call("GET", f"/books/{book}", "warm-up", 200)
    figures.clear()
    for _ in range(visits):
        buy()
        api()
    mail = worker_cost(app)
    for page_figures in figures.values():
        n = page_figures["requests"]
        for key in ("cpu", "wall", "sql", "checkouts", "redis", "bytes"):
            page_figures[key] /= n
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
        out.seek(0)
        out2 = io.StringIO()
        pstats.Stats(profiler, stream=out2).sort_stats("tottime").print_stats(25)
        print(out.getvalue() + out2.getvalue(), file=sys.stderr)
    return {"pages": figures, "mail": mail, "shipping_asked": shipping_asked}


def worker_cost(app) -> dict:
    """CPU per owed e-mail: the tree's own delivery code renders and sends each pending message to the sink."""
    import time

    from sqlalchemy import text

    from blasto.core.extensions import db
    from blasto.outbox.delivery import deliver

    with app.app_context():
        pending = db.session.execute(text("SELECT id, kind FROM outbox_messages WHERE state = 'pending' ORDER BY id"))
        pending = [(row.id, row.kind) for row in pending]
        db.session.rollback()
        kinds: dict[str, int] = {}
        started = time.process_time()
        for message_id, kind in pending:
            deliver(message_id)
            kinds[kind] = kinds.get(kind, 0) + 1
        spent = time.process_time() - started
    return {
        "messages": len(pending),
        "kinds": kinds,
        "cpu_ms_per_message": round(1000 * spent / max(1, len(pending)), 2),
    }


# --- the parent ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="a second source tree (a worktree of an older commit)")
    parser.add_argument("--visits", type=int, default=40, help="buying visits and API visits replayed (default 40)")
    parser.add_argument("--profile", help="a page to profile with cProfile, e.g. 'GET /checkout'")
    parser.add_argument("--sql", help="print the SQL statements of one request of a page, e.g. 'POST /checkout'")
    parser.add_argument(
        "--keep", action="store_true", help="keep the databases for the next run (and use the kept ones if there)"
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        args.out.write_text(json.dumps(child(args.child, args.profile, args.sql)))
        return 0
    trees = [("after", ROOT)] + ([("before", args.before.resolve())] if args.before else [])
    results = {
        label: run_tree(tree, f"bench_pages_{label}", args.visits, args.profile, args.sql, args.keep)
        for label, tree in trees
    }
    shown = list(reversed(list(results)))
    pages = sorted({page for result in results.values() for page in result["pages"]}, key=lambda p: (p.split()[1], p))
    print(
        "| page | " + " | ".join(f"{label}: CPU ms / wall ms / SQL / check-outs / Redis / kB" for label in shown) + " |"
    )
    print("|---|" + "---:|" * len(shown))
    for page in pages:
        cells = []
        for label in shown:
            f = results[label]["pages"].get(page)
            cells.append(
                f"{f['cpu'] * 1000:.2f} / {f['wall'] * 1000:.2f} / {f['sql']:.1f} / {f['checkouts']:.1f} / {f['redis']:.1f} / {f['bytes'] / 1000:.1f}"
                if f
                else "-"
            )
        print(f"| {page} | " + " | ".join(cells) + " |")
    mixed = []
    for label in shown:
        pages_of = results[label]["pages"]
        mean = {
            key: sum(SHARES[page] * pages_of[page][key] for page in SHARES) / sum(SHARES.values())
            for key in ("cpu", "sql")
        }
        no_login = sum(SHARES[page] * pages_of[page]["cpu"] for page in SHARES if page != "POST /login")
        mail = results[label]["mail"].get("cpu_ms_per_message", 0.0)
        mailed = (SHARES["POST /checkout"] + SHARES["POST /api/v1/purchases"]) / sum(SHARES.values())
        mixed.append(
            f"{mean['cpu'] * 1000:.2f} ms CPU ({no_login / sum(SHARES.values()) * 1000:.2f} without POST /login), "
            f"{mean['sql']:.2f} SQL statements, worker {mail * mailed:.2f} ms CPU for its e-mails"
        )
    print("| the mix, per request | " + " | ".join(mixed) + " |")
    for label in shown:
        print(
            f"\n{label}: shipping asked by the API: {results[label]['shipping_asked']}; e-mails: {results[label]['mail']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
