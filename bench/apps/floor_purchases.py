"""An experiment, not Blasto: about the least work `GET /api/v1/purchases` can do with Flask and Postgres.

Bare Flask, one psycopg connection per thread (autocommit), and one prepared
statement per request that checks the bearer token and reads the page (20
purchases with their lines, and the count). Two variants:

- `/api/v1/purchases`: Postgres builds the whole page as JSON text, returned
  as it comes: no rows turned into Python objects, no json.dumps.
- `/api/v1/purchases-rows`: Postgres returns rows (one per line, as Blasto's
  statement does); Python groups them with tuple unpacking and json.dumps them.

No SQLAlchemy, no ORM, no webargs, no flask-smorest. bench/profile_purchases.py
measures both next to bare Flask and Blasto, to show how far any version of
the real endpoint could get on the same machine. It reads DATABASE_URL (the
bench database) and trusts its schema.
"""
import hashlib
import json
import os
import threading

import psycopg
from flask import Flask, Response, request

PAGE_JSON = """
WITH token AS (
    SELECT user_id FROM api_tokens WHERE digest = %s AND revoked_at IS NULL AND expires_at > now()
), page AS (
    SELECT p.id, p.status, p.created_at, p.total_cents FROM purchases p
    WHERE p.user_id = (SELECT user_id FROM token)
    ORDER BY p.created_at DESC, p.id DESC LIMIT 20
)
SELECT (SELECT count(*) FROM token), json_build_object(
    'items', (SELECT json_agg(json_build_object(
        'id', page.id, 'status', page.status, 'created_at', page.created_at, 'total_cents', page.total_cents,
        '_links', json_build_object('self', '/api/v1/purchases/' || page.id),
        'items', (SELECT json_agg(json_build_object(
                      'product_id', pi.product_id, 'title', pr.title, 'quantity', pi.quantity,
                      'unit_price_cents', pi.unit_price_cents, 'line_total_cents', pi.quantity * pi.unit_price_cents
                  ) ORDER BY pi.id)
                  FROM purchase_items pi JOIN products pr ON pr.id = pi.product_id WHERE pi.purchase_id = page.id)
    ) ORDER BY page.created_at DESC, page.id DESC) FROM page),
    '_meta', json_build_object('page', 1, 'per_page', 20,
                               'total_items', (SELECT count(*) FROM purchases WHERE user_id = (SELECT user_id FROM token)))
)::text
"""

app = Flask(__name__)
_local = threading.local()


def _connection() -> psycopg.Connection:
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = _local.connection = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    return connection


@app.get("/api/v1/purchases")
def purchases():
    token = request.headers.get("Authorization", "").partition(" ")[2].strip()
    digest = hashlib.sha256(token.encode()).hexdigest()
    found, body = _connection().execute(PAGE_JSON, (digest,), prepare=True).fetchone()
    if not found:
        return Response('{"error": "unauthorized"}', 401, mimetype="application/json")
    return Response(body, mimetype="application/json")


PAGE_ROWS = """
WITH token AS (
    SELECT user_id FROM api_tokens WHERE digest = %s AND revoked_at IS NULL AND expires_at > now()
), page AS (
    SELECT p.id, p.status, p.created_at, p.total_cents FROM purchases p
    WHERE p.user_id = (SELECT user_id FROM token)
    ORDER BY p.created_at DESC, p.id DESC LIMIT 20
)
SELECT page.id, page.status, page.created_at, page.total_cents,
       pi.product_id, pr.title, pi.quantity, pi.unit_price_cents,
       (SELECT count(*) FROM purchases WHERE user_id = (SELECT user_id FROM token))
FROM page JOIN purchase_items pi ON pi.purchase_id = page.id JOIN products pr ON pr.id = pi.product_id
ORDER BY page.created_at DESC, page.id DESC, pi.id
"""


@app.get("/api/v1/purchases-rows")
def purchases_rows():
    token = request.headers.get("Authorization", "").partition(" ")[2].strip()
    digest = hashlib.sha256(token.encode()).hexdigest()
    rows = _connection().execute(PAGE_ROWS, (digest,), prepare=True).fetchall()
    if not rows:  # (a shopper with no purchases would need the token checked apart; not here)
        return Response('{"error": "unauthorized"}', 401, mimetype="application/json")
    items, current_id, lines = [], None, None
    for purchase_id, status, created_at, total, product_id, title, quantity, price, _ in rows:
        if purchase_id != current_id:
            current_id, lines = purchase_id, []
            items.append({"id": purchase_id, "status": status, "created_at": created_at.isoformat(), "total_cents": total,
                          "total_display": f"${total // 100}.{total % 100:02d}", "currency": "USD", "items": lines,
                          "_links": {"self": f"/api/v1/purchases/{purchase_id}"}})
        lines.append({"product_id": product_id, "title": title, "quantity": quantity, "unit_price_cents": price,
                      "line_total_cents": quantity * price})
    total_items = rows[0][8]
    body = {"items": items, "_meta": {"page": 1, "per_page": 20, "total_pages": -(-total_items // 20), "total_items": total_items},
            "_links": {"self": "/api/v1/purchases?page=1&per_page=20", "next": "/api/v1/purchases?page=2&per_page=20", "prev": None}}
    return Response(json.dumps(body, separators=(",", ":")), mimetype="application/json")
