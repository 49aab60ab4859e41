"""The floor, not Blasto: about the least work `GET /api/v1/purchases` can do with Flask and Postgres.

Bare Flask, one psycopg connection per thread (autocommit), and one prepared
statement per request that checks the bearer token and builds the whole page
(20 purchases with their lines, and the count) as JSON text inside Postgres,
returned as it comes: no SQLAlchemy, no ORM, no webargs, no json.dumps.
bench/run.py serves it with the Procfile's own web line next to Blasto's
endpoint on the same data, to show how far any version of it could get.
It reads DATABASE_URL (the bench database) and trusts its schema.
"""

import hashlib
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
    '_meta', json_build_object(
        'page', 1, 'per_page', 20,
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
