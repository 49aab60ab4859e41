"""The bench's Postgres data: the real schema and catalogue, shoppers with a history, API clients with tokens.

`build(tree, name)` (re)creates database `name` on the local Postgres
(127.0.0.1:5432, user postgres, trust) in a few seconds: the tree's own
`flask db upgrade` (the Procfile's release) and `flask seed` (the sample
catalogue), then accounts and past purchases bulk-loaded with `COPY` in one
transaction, then the tree's `flask recount-sales` where it keeps sales counts, then `VACUUM ANALYZE` (statistics, as autovacuum would leave a
live database). A fixed random seed makes the data the same on every run.

- Shoppers who sign in through the form: one password for all (a real scrypt
  hash, made once), 0 to 8 past purchases each.
- API clients: a bearer token each (stored as its SHA-256 digest, like the
  app), 0 to 30 past purchases each.
- The floor reader: 1,000 purchases, for `GET /api/v1/purchases` next to
  bench/apps/floor_purchases.py.
- Every book gets a deep stock, so checkouts never sell out during a run.

Run it alone to poke at the data: `.venv/bin/python bench/dataset.py`
builds `bench_manual` and prints a token; `--drop` removes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import secrets
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql
from werkzeug.security import generate_password_hash

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
SERVER_URL = "postgresql://postgres@127.0.0.1:5432"

PASSWORD = "bench shopper password"
SHOPPERS, SHOPPER_HISTORY = 1000, (0, 8)
API_CLIENTS, API_HISTORY = 100, (0, 30)
FLOOR_PURCHASES = 1000
LINES_PER_PURCHASE = (1, 3)
QUANTITIES, QUANTITY_WEIGHTS = (1, 2, 3), (6, 3, 1)
STOCK = 1_000_000
HISTORY = timedelta(days=730)
TOKEN_LIFETIME = timedelta(days=2)
RANDOM_SEED = 20261121
COMMAND_TIMEOUT = 120.0


class DatasetError(RuntimeError):
    """Postgres is unreachable or a step failed; the message says which."""


@dataclass(frozen=True)
class Dataset:
    """What the load generator needs to play the shop's users (written to JSON for it)."""

    database: str
    password: str
    shoppers: list[str]  # e-mail addresses
    api_tokens: list[str]  # plaintext bearer tokens
    floor_token: str  # the floor reader's
    books: list[tuple[int, str, str]]  # (id, title, author)
    purchases: int
    seconds: float

    @property
    def url(self) -> str:
        return database_url(self.database)

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self)))
        return path


def database_url(name: str) -> str:
    """The form Heroku gives (postgres://); the app pins the psycopg 3 driver itself."""
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def build(tree: Path, name: str, env: dict[str, str]) -> Dataset:
    """Database `name` migrated and seeded by `tree`'s own code, then loaded with users and history."""
    started = time.monotonic()
    create(name)
    env = {**env, "DATABASE_URL": database_url(name), "PYTHONPATH": str(tree)}
    env.pop("REDIS_URL", None)
    flask_command(tree, ["db", "upgrade"], env)
    flask_command(tree, ["seed"], env)
    try:
        with psycopg.connect(f"{SERVER_URL}/{name}", connect_timeout=5) as conn:
            data = load(conn, name)
            conn.commit()
        if (tree / "blasto" / "shop" / "sales_counts.py").exists():  # a tree that keeps sales counts counts the history
            flask_command(tree, ["recount-sales"], env)
        with psycopg.connect(f"{SERVER_URL}/{name}", autocommit=True, connect_timeout=5) as conn:
            conn.execute("VACUUM ANALYZE")
    except psycopg.Error as exc:
        raise DatasetError(f"loading {name}: {exc}") from exc
    return Dataset(**{**data, "seconds": time.monotonic() - started})


def copy(template: str, name: str) -> None:
    """A fresh copy of a built database, so every measured stack starts from the same rows."""
    drop(name)
    admin(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))


def create(name: str) -> None:
    """An empty database `name`, dropped first if it exists."""
    drop(name)
    admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop(name: str) -> None:
    admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def admin(statement: sql.Composable) -> None:
    try:
        with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(statement)
    except psycopg.Error as exc:
        raise DatasetError(f"Postgres at {SERVER_URL}: {exc}") from exc


def flask_command(tree: Path, args: list[str], env: dict[str, str]) -> None:
    command = [str(BIN / "flask"), "--app", "blasto", *args]
    try:
        result = subprocess.run(
            command, cwd=tree, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise DatasetError(f"`flask {' '.join(args)}` in {tree} did not finish within {COMMAND_TIMEOUT:g} s") from None
    if result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip()).splitlines()[-15:]
        raise DatasetError(f"`flask {' '.join(args)}` in {tree} failed ({result.returncode}):\n" + "\n".join(output))


def load(conn: psycopg.Connection, name: str) -> dict:
    """Accounts, tokens and past purchases; ids come from the tables' own sequences."""
    rng = random.Random(RANDOM_SEED)
    conn.execute("UPDATE products SET stock = %s", (STOCK,))
    books = conn.execute("SELECT id, title, author, price_cents FROM products WHERE NOT hidden ORDER BY id").fetchall()
    if len(books) < 10:
        raise DatasetError(f"the catalogue has {len(books)} books after `flask seed`; expected the sample catalogue")
    # Past buyers favour a few books (weight 1/rank), so the best-seller shelf has a clear head.
    popular = [(book_id, price) for book_id, _, _, price in books]
    rng.shuffle(popular)
    weights = [1 / rank for rank in range(1, len(popular) + 1)]

    password_hash = generate_password_hash(PASSWORD)  # werkzeug's scrypt, as the app's production setting
    now = datetime.now(UTC)
    shoppers = [f"bench-shopper-{n}@example.com" for n in range(SHOPPERS)]
    clients = [f"bench-api-{n}@example.com" for n in range(API_CLIENTS)]
    owners = [(email, rng.randint(*SHOPPER_HISTORY)) for email in shoppers]
    owners += [(email, rng.randint(*API_HISTORY)) for email in clients]
    owners.append(("bench-floor@example.com", FLOOR_PURCHASES))
    ids = {}
    for email, _ in owners:
        ids[email] = conn.execute(
            "INSERT INTO users (email, name, password_hash, is_admin, created_at) "
            "VALUES (%s, %s, %s, false, %s) RETURNING id",
            (email, email.split("@")[0].replace("-", " ").title(), password_hash, now - HISTORY),
        ).fetchone()[0]

    count = sum(history for _, history in owners)
    purchase_ids = iter(
        row[0]
        for row in conn.execute(
            "SELECT nextval(pg_get_serial_sequence('purchases', 'id')) FROM generate_series(1, %s)", (count,)
        ).fetchall()
    )
    purchases, lines = [], []
    for email, history in owners:
        for _ in range(history):
            purchase_id, chosen, size = next(purchase_ids), {}, rng.randint(*LINES_PER_PURCHASE)
            while len(chosen) < size:
                book_id, price = rng.choices(popular, weights)[0]
                chosen[book_id] = price
            total = 0
            for book_id, price in chosen.items():
                quantity = rng.choices(QUANTITIES, QUANTITY_WEIGHTS)[0]
                lines.append((purchase_id, book_id, quantity, price))
                total += quantity * price
            created_at = now - timedelta(seconds=rng.uniform(60, HISTORY.total_seconds()))
            purchases.append((purchase_id, ids[email], created_at, total, "paid"))
    with conn.cursor() as cur:
        with cur.copy("COPY purchases (id, user_id, created_at, total_cents, status) FROM STDIN") as rows:
            for row in purchases:
                rows.write_row(row)
        with cur.copy("COPY purchase_items (purchase_id, product_id, quantity, unit_price_cents) FROM STDIN") as rows:
            for row in lines:
                rows.write_row(row)
    return {
        "database": name,
        "password": PASSWORD,
        "shoppers": shoppers,
        "api_tokens": [issue_token(conn, ids[email], now) for email in clients],
        "floor_token": issue_token(conn, ids["bench-floor@example.com"], now),
        "books": [(book_id, title, author) for book_id, title, author, _ in books],
        "purchases": len(purchases),
    }


def issue_token(conn: psycopg.Connection, user_id: int, now: datetime) -> str:
    """A bearer token stored the way the app stores them: only its SHA-256 hex digest."""
    token = secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO api_tokens (user_id, digest, created_at, expires_at, revoked_at) VALUES (%s, %s, %s, %s, NULL)",
        (user_id, hashlib.sha256(token.encode()).hexdigest(), now, now + TOKEN_LIFETIME),
    )
    return token


def main(argv: list[str]) -> int:
    name = "bench_manual"
    try:
        if argv == ["--drop"]:
            drop(name)
            print(f"dropped {name}")
            return 0
        if argv:
            print("usage: bench/dataset.py [--drop]", file=sys.stderr)
            return 2
        env = {**os.environ, "BLASTO_ENV": "production", "SECRET_KEY": secrets.token_hex(32)}
        data = build(ROOT, name, env)
    except DatasetError as exc:
        print(f"dataset: {exc}", file=sys.stderr)
        return 1
    print(
        f"{name}: {len(data.books)} books, {len(data.shoppers)} shoppers (password {PASSWORD!r}), "
        f"{len(data.api_tokens)} API clients, {data.purchases} purchases, built in {data.seconds:.1f} s"
    )
    print(f"DATABASE_URL={data.url}")
    print(f"Authorization: Bearer {data.floor_token}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
