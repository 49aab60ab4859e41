"""The bench's Postgres data set: a real schema, the real catalogue, a shopper with 1,000 purchases.

`build()` (re)creates a dedicated database, `blasto_bench` on the local
Postgres (127.0.0.1:5432, user postgres, trust auth), in a few seconds:

1. `DROP DATABASE IF EXISTS blasto_bench WITH (FORCE)`, then `CREATE DATABASE`,
   so every run starts from the same state whatever the last one left.
2. The schema comes from the committed migrations, `flask --app blasto db upgrade`
   (what the Procfile's `release` runs), and the catalogue from
   `flask --app blasto seed`, both with `BLASTO_ENV=production`.
3. Purchases are bulk-loaded with `COPY` in one transaction (no ORM, no
   checkout): one shopper with 1,000 purchases of 1 to 3 lines each, spread
   over two years, and other shoppers' purchases that favour a few books
   (weights 1/rank), so the best-seller ranking has a clear head. Lines carry
   the catalogue price as `unit_price_cents`; each total is the sum of its lines.
   A fixed random seed makes the data the same on every run.
4. One API token for the shopper: `secrets.token_urlsafe(32)`, stored as its
   SHA-256 hex digest like the app does, valid for one day.
5. `VACUUM ANALYZE`, so the planner has statistics (and index-only scans a
   visibility map) before the first request, as autovacuum would leave a live database.

`drop()` removes the database again. `.venv/bin/python bench/dataset.py` builds
it and prints the token, for poking at it by hand (it is left in place);
`.venv/bin/python bench/dataset.py --drop` removes it.
"""
from __future__ import annotations

import hashlib
import os
import random
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
from psycopg import sql
from werkzeug.security import generate_password_hash

ROOT = Path(__file__).resolve().parent.parent
FLASK = ROOT / ".venv" / "bin" / "flask"

DATABASE = "blasto_bench"
SERVER_URL = "postgresql://postgres@127.0.0.1:5432"
# The form Heroku gives (postgres://); the app pins the psycopg 3 driver itself.
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"

SHOPPER_EMAIL = "bench-shopper@example.com"
SHOPPER_PURCHASES = 1000
OTHER_SHOPPERS = 40
OTHER_PURCHASES = 400
LINES_PER_PURCHASE = (1, 3)
QUANTITIES, QUANTITY_WEIGHTS = (1, 2, 3), (6, 3, 1)
HISTORY = timedelta(days=730)
TOKEN_LIFETIME = timedelta(days=1)
RANDOM_SEED = 20261121
COMMAND_TIMEOUT = 120.0


class DatasetError(RuntimeError):
    """Postgres is unreachable or a step failed; the message says which."""


@dataclass(frozen=True)
class Dataset:
    database_url: str
    token: str  # plaintext bearer token of the shopper
    shopper_id: int
    shopper_purchases: int
    purchases: int
    lines: int
    products: int
    titles: tuple[str, ...]  # the catalogue's
    seconds: float

    @property
    def auth_header(self) -> str:
        return f"Bearer {self.token}"


def app_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment the flask commands run with: production settings on the bench database."""
    env = dict(os.environ if base is None else base)
    env.update(DATABASE_URL=DATABASE_URL, BLASTO_ENV="production", PYTHONPATH=str(ROOT))
    env.setdefault("SECRET_KEY", secrets.token_hex(32))
    env.pop("REDIS_URL", None)
    return env


def build(base_env: dict[str, str] | None = None) -> Dataset:
    started = time.monotonic()
    recreate_database()
    env = app_env(base_env)
    flask_command(["db", "upgrade"], env)
    flask_command(["seed"], env)
    try:
        with psycopg.connect(f"{SERVER_URL}/{DATABASE}", connect_timeout=5) as conn:
            counts = load_purchases(conn)
            token = issue_token(conn, counts["shopper_id"])
            conn.commit()
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE")  # statistics and a visibility map, as autovacuum would leave them
    except psycopg.Error as exc:
        raise DatasetError(f"loading purchases into {DATABASE}: {exc}") from exc
    return Dataset(database_url=DATABASE_URL, token=token, seconds=time.monotonic() - started, **counts)


def recreate_database() -> None:
    try:
        with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    except psycopg.Error as exc:
        raise DatasetError(f"cannot recreate database {DATABASE} at {SERVER_URL}: {exc}") from exc


def drop() -> None:
    """Remove the bench database (and any connection still open to it)."""
    try:
        with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE)))
    except psycopg.Error as exc:
        raise DatasetError(f"cannot drop database {DATABASE}: {exc}") from exc


def flask_command(args: list[str], env: dict[str, str]) -> str:
    command = [str(FLASK), "--app", "blasto", *args]
    try:
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise DatasetError(f"`flask {' '.join(args)}` did not finish within {COMMAND_TIMEOUT:g} s") from None
    if result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip()).splitlines()[-15:]
        raise DatasetError(f"`flask {' '.join(args)}` failed ({result.returncode}):\n" + "\n".join(output))
    return result.stdout


def load_purchases(conn: psycopg.Connection) -> dict:
    """The shoppers, their purchases and lines; ids come from the tables' own sequences."""
    rng = random.Random(RANDOM_SEED)
    catalogue = conn.execute("SELECT id, price_cents, title FROM products ORDER BY id").fetchall()
    products = [(product_id, price) for product_id, price, _ in catalogue]
    if len(products) < 10:
        raise DatasetError(f"the catalogue has {len(products)} books after `flask seed`; expected the sample catalogue")
    # A real hash of a password nobody knows: the rows are valid, no one can log in as them.
    password_hash = generate_password_hash(secrets.token_urlsafe(16))
    now = datetime.now(timezone.utc)

    shopper_id = conn.execute(
        "INSERT INTO users (email, name, password_hash, is_admin, created_at) VALUES (%s, %s, %s, false, %s) RETURNING id",
        (SHOPPER_EMAIL, "Bench Shopper", password_hash, now - HISTORY),
    ).fetchone()[0]
    other_ids = [row[0] for row in conn.execute(
        "INSERT INTO users (email, name, password_hash, is_admin, created_at) "
        "SELECT 'bench-reader-' || g || '@example.com', 'Bench Reader ' || g, %s, false, %s "
        "FROM generate_series(1, %s) AS g RETURNING id",
        (password_hash, now - HISTORY, OTHER_SHOPPERS),
    ).fetchall()]

    # Other shoppers favour a few books: weight 1/rank over a shuffled catalogue.
    popular = products[:]
    rng.shuffle(popular)
    popular_weights = [1 / rank for rank in range(1, len(popular) + 1)]

    buyers = [(shopper_id, None)] * SHOPPER_PURCHASES + [(rng.choice(other_ids), popular_weights) for _ in range(OTHER_PURCHASES)]
    purchase_ids = [row[0] for row in conn.execute(
        "SELECT nextval(pg_get_serial_sequence('purchases', 'id')) FROM generate_series(1, %s)", (len(buyers),)
    ).fetchall()]

    purchases, lines = [], []
    for purchase_id, (user_id, weights) in zip(purchase_ids, buyers):
        count = rng.randint(*LINES_PER_PURCHASE)
        chosen: dict[int, int] = {}
        while len(chosen) < count:
            product_id, price = rng.choices(popular, weights)[0] if weights else rng.choice(products)
            chosen[product_id] = price
        total = 0
        for product_id, price in chosen.items():
            quantity = rng.choices(QUANTITIES, QUANTITY_WEIGHTS)[0]
            lines.append((purchase_id, product_id, quantity, price))
            total += quantity * price
        created_at = now - timedelta(seconds=rng.uniform(60, HISTORY.total_seconds()))
        purchases.append((purchase_id, user_id, created_at, total, "paid"))

    with conn.cursor() as cur:
        with cur.copy("COPY purchases (id, user_id, created_at, total_cents, status) FROM STDIN") as copy:
            for row in purchases:
                copy.write_row(row)
        with cur.copy("COPY purchase_items (purchase_id, product_id, quantity, unit_price_cents) FROM STDIN") as copy:
            for row in lines:
                copy.write_row(row)
    return {"shopper_id": shopper_id, "shopper_purchases": SHOPPER_PURCHASES, "purchases": len(purchases),
            "lines": len(lines), "products": len(products), "titles": tuple(title for _, _, title in catalogue)}


def issue_token(conn: psycopg.Connection, user_id: int) -> str:
    """A bearer token stored the way the app stores them: only its SHA-256 hex digest."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(timezone.utc)
    conn.execute(
        "INSERT INTO api_tokens (user_id, digest, created_at, expires_at, revoked_at) VALUES (%s, %s, %s, %s, NULL)",
        (user_id, hashlib.sha256(token.encode()).hexdigest(), now, now + TOKEN_LIFETIME),
    )
    return token


def main(argv: list[str]) -> int:
    try:
        if argv == ["--drop"]:
            drop()
            print(f"dropped {DATABASE}")
            return 0
        if argv:
            print("usage: bench/dataset.py [--drop]", file=sys.stderr)
            return 2
        dataset = build()
    except DatasetError as exc:
        print(f"dataset: {exc}", file=sys.stderr)
        return 1
    print(f"{DATABASE}: {dataset.products} books, {dataset.purchases} purchases ({dataset.shopper_purchases} by user "
          f"{dataset.shopper_id}), {dataset.lines} lines, built in {dataset.seconds:.1f} s")
    print(f"DATABASE_URL={dataset.database_url}")
    print(f"Authorization: {dataset.auth_header}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
